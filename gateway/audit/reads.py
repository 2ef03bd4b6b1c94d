"""Which fields an operation reads, as `Type.field`: what the audit log records (Art. 34).

Worked out from the validated document against the agency's own schema, so aliases, fragments
and inline fragments all count under the field's real name, and a selection that `@skip` or
`@include` left out (with the request's variables) does not count.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLIncludeDirective,
    GraphQLObjectType,
    GraphQLSkipDirective,
    InlineFragmentNode,
    OperationDefinitionNode,
    get_named_type,
)
from graphql.execution.values import (
    VariableValues,
    get_directive_values,
    get_variable_values,
)

if TYPE_CHECKING:
    from graphql import DocumentNode, GraphQLSchema, SelectionNode, SelectionSetNode

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
    root = schema.query_type
    if root is None or len(operations) != 1:
        return set()  # execution refuses these; nothing was read
    operation = operations[0]
    coerced = get_variable_values(schema, operation.variable_definitions or (), variables or {})
    walk = _Walk(schema, document, None if isinstance(coerced, list) else coerced)
    walk.selections(operation.selection_set, root, frozenset())
    return walk.found


class _Walk:
    """One walk over an operation's selections, with the fragments and variables it needs."""

    def __init__(
        self, schema: GraphQLSchema, document: DocumentNode, variables: VariableValues | None
    ) -> None:
        self.schema = schema
        self.variables = variables
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.found: set[str] = set()

    def included(self, node: SelectionNode) -> bool:
        """False when `@skip(if: true)` or `@include(if: false)` leaves the selection out."""
        skip = get_directive_values(GraphQLSkipDirective, node, self.variables)
        if skip is not None and skip.get("if") is True:
            return False
        include = get_directive_values(GraphQLIncludeDirective, node, self.variables)
        return include is None or include.get("if") is not False

    def selections(
        self, selection_set: SelectionSetNode, parent: GraphQLObjectType, seen: frozenset[str]
    ) -> None:
        for selection in selection_set.selections:
            if not self.included(selection):
                continue
            if isinstance(selection, FieldNode):
                self.field(selection, parent, seen)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                named = self.schema.get_type(condition.name.value) if condition else parent
                if isinstance(named, GraphQLObjectType):
                    self.selections(selection.selection_set, named, seen)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments.get(selection.name.value)
                # Validation refuses fragment cycles; `seen` keeps a walk finite regardless.
                if fragment is None or fragment.name.value in seen:
                    continue
                named = self.schema.get_type(fragment.type_condition.name.value)
                if isinstance(named, GraphQLObjectType):
                    self.selections(fragment.selection_set, named, seen | {fragment.name.value})

    def field(self, node: FieldNode, parent: GraphQLObjectType, seen: frozenset[str]) -> None:
        name = node.name.value
        definition = parent.fields.get(name)
        if name.startswith("__") or definition is None:
            return
        if not parent.name.endswith(_PLUMBING):
            self.found.add(f"{parent.name}.{name}")
        target = get_named_type(definition.type)
        if node.selection_set is not None and isinstance(target, GraphQLObjectType):
            self.selections(node.selection_set, target, seen)
