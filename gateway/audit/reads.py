"""Which fields an operation reads, as `Type.field`: what the audit log records (Art. 34).

Worked out from the validated document against the agency's own schema, so aliases,
fragments and inline fragments all count under the field's real name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLObjectType,
    InlineFragmentNode,
    OperationDefinitionNode,
    get_named_type,
)

if TYPE_CHECKING:
    from graphql import DocumentNode, GraphQLSchema, SelectionSetNode

__all__ = ["fields_read"]

#: Types whose fields are plumbing, not data (pages, edges, cursors).
_PLUMBING = ("Connection", "Edge", "PageInfo")


def fields_read(
    schema: GraphQLSchema, document: DocumentNode, operation_name: str | None
) -> set[str]:
    """`Type.field` of every data field the chosen operation selects (introspection excluded)."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [o for o in operations if o.name and o.name.value == operation_name]
    found: set[str] = set()
    root = schema.query_type
    if root is None or len(operations) != 1:
        return found  # execution refuses these; nothing was read
    _walk(operations[0].selection_set, root, schema, fragments, found, set())
    return found


def _walk(  # noqa: PLR0917 (a private recursive walk: its state travels as arguments)
    selection_set: SelectionSetNode,
    parent: GraphQLObjectType,
    schema: GraphQLSchema,
    fragments: dict[str, FragmentDefinitionNode],
    found: set[str],
    seen: set[str],
) -> None:
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            name = selection.name.value
            definition = parent.fields.get(name)
            if name.startswith("__") or definition is None:
                continue
            if not parent.name.endswith(_PLUMBING):
                found.add(f"{parent.name}.{name}")
            target = get_named_type(definition.type)
            if selection.selection_set is not None and isinstance(target, GraphQLObjectType):
                _walk(selection.selection_set, target, schema, fragments, found, seen)
        elif isinstance(selection, InlineFragmentNode):
            condition = selection.type_condition
            named = schema.get_type(condition.name.value) if condition else parent
            if isinstance(named, GraphQLObjectType):
                _walk(selection.selection_set, named, schema, fragments, found, seen)
        elif isinstance(selection, FragmentSpreadNode):
            fragment = fragments.get(selection.name.value)
            if fragment is None or fragment.name.value in seen:
                continue
            named = schema.get_type(fragment.type_condition.name.value)
            if isinstance(named, GraphQLObjectType):
                # Validation refuses fragment cycles; the guard keeps a walk finite regardless.
                _walk(
                    fragment.selection_set,
                    named,
                    schema,
                    fragments,
                    found,
                    seen | {fragment.name.value},
                )
