"""What kind of operation a validated document holds: a query, a mutation, or only the schema.

The HTTP layer asks before it runs one: a mutation is never run by `GET` (a URL is replayed by
caches, crawlers and browser history), and an operation that asks only for the schema
(`__schema`, `__type`, `__typename`) reads no base data, so required mode lets it through
(GraphiQL needs it; docs/security.md, "Trusted documents").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from graphql import FieldNode, FragmentDefinitionNode, FragmentSpreadNode, InlineFragmentNode
from graphql.utilities import get_operation_ast

if TYPE_CHECKING:
    from graphql import DocumentNode, SelectionSetNode

__all__ = ["introspection_only", "operation_kind"]

_SCHEMA_FIELDS = frozenset({"__schema", "__type", "__typename"})


def operation_kind(document: DocumentNode, operation_name: str | None) -> str | None:
    """`query`, `mutation` or `subscription` for the operation the request runs; None when the
    name picks none (execution then refuses it in its own words)."""
    operation = get_operation_ast(document, operation_name)
    return None if operation is None else operation.operation.value


def introspection_only(document: DocumentNode, operation_name: str | None) -> bool:
    """Whether the operation selects nothing at its root but the schema's own fields."""
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return False
    fragments = {
        definition.name.value: definition
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }
    return _only_schema(operation.selection_set, fragments, set())


def _only_schema(
    selections: SelectionSetNode,
    fragments: dict[str, FragmentDefinitionNode],
    seen: set[str],
) -> bool:
    for selection in selections.selections:
        if isinstance(selection, FieldNode):
            if selection.name.value not in _SCHEMA_FIELDS:
                return False
        elif isinstance(selection, InlineFragmentNode):
            if not _only_schema(selection.selection_set, fragments, seen):
                return False
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            if name in seen:  # validation refuses cycles; never loop on one anyway
                continue
            fragment = fragments.get(name)
            if fragment is None or not _only_schema(
                fragment.selection_set, fragments, seen | {name}
            ):
                return False
    return True
