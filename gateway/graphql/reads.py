"""Which fields an operation reads, as `Type.field`: what the audit log records (Art. 34).

Worked out from the validated document against the agency's own schema, so aliases, fragments
and inline fragments all count under the field's real name, and a selection that `@skip` or
`@include` left out (with the request's variables) does not count. The walk is
gateway.graphql.bounds.walk's: each fragment is folded once, however often it is spread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from graphql import (
    GraphQLIncludeDirective,
    GraphQLObjectType,
    GraphQLSkipDirective,
    OperationDefinitionNode,
)
from graphql.execution.values import (
    VariableValues,
    get_directive_values,
    get_variable_values,
)

from gateway.graphql.bounds.walk import fold_operations

if TYPE_CHECKING:
    from graphql import DocumentNode, FieldNode, GraphQLField, GraphQLSchema, SelectionNode

    from gateway.graphql.bounds.walk import Parent

__all__ = ["fields_read"]

#: Types whose fields are plumbing, not data (pages, edges, cursors).
_PLUMBING = ("Connection", "Edge", "PageInfo")


def fields_read(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: dict[str, Any] | None = None,
) -> set[str]:
    """`Type.field` of every data field the chosen operation selects (introspection excluded)."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [o for o in operations if o.name and o.name.value == operation_name]
    if schema.query_type is None or len(operations) != 1:
        return set()  # execution refuses these; nothing was read
    operation = operations[0]
    coerced = get_variable_values(schema, operation.variable_definitions or (), variables or {})
    reading = _Reading(schema, None if isinstance(coerced, list) else coerced)
    ((_, found),) = fold_operations(schema, document, reading, only=operation)
    return set(found)


class _Reading:
    """The fold (gateway.graphql.bounds.walk.Fold) that collects `Type.field` names."""

    def __init__(self, schema: GraphQLSchema, variables: VariableValues | None) -> None:
        self.schema = schema
        self.variables = variables

    def empty(self) -> frozenset[str]:
        return frozenset()

    def add(self, first: frozenset[str], second: frozenset[str]) -> frozenset[str]:
        return first | second if second else first

    def included(self, node: SelectionNode) -> bool:
        """False when `@skip(if: true)` or `@include(if: false)` leaves the selection out."""
        if not node.directives:
            return True
        skip = get_directive_values(GraphQLSkipDirective, node, self.variables)
        if skip is not None and skip.get("if") is True:
            return False
        include = get_directive_values(GraphQLIncludeDirective, node, self.variables)
        return include is None or include.get("if") is not False

    def field(
        self,
        node: FieldNode,
        parent: Parent,
        definition: GraphQLField | None,
        below: frozenset[str],
    ) -> frozenset[str]:
        name = node.name.value
        if name.startswith("__") or definition is None or not isinstance(parent, GraphQLObjectType):
            return frozenset()
        if parent.name.endswith(_PLUMBING):
            return below
        return below | {f"{parent.name}.{name}"}
