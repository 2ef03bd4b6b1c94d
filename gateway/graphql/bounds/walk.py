"""One walk over a GraphQL document that expands each fragment once, however often it is spread.

Fragments that each spread the next one twice double the work per level: a walk that expands
them where they are spread took 27 s on 20 levels (an 828-byte body) and never ends on the 190
levels that fit under the token cap (issue 9). Here a walk is a *fold*: each fragment's
selections are folded once (its type condition fixes the parent type of its fields), in the
order of their dependencies, and the result is reused wherever the fragment is spread. A walk
then costs time in proportion to the document's text, whatever size it expands to.

The fold runs on documents graphql-core has not validated yet (the bounds are checked first), so
it tolerates unknown fields, types and fragments (folded with no parent type) and fragment
cycles (a spread back into a cycle adds nothing; validation refuses the cycle afterwards).

Every walk over a document's selections goes through `fold_operations`: the bounds
(gateway.graphql.bounds.measure) and the audit's read set (gateway.graphql.reads).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLUnionType,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SchemaMetaFieldDef,
    TypeMetaFieldDef,
    TypeNameMetaFieldDef,
    get_named_type,
)

if TYPE_CHECKING:
    from graphql import (
        DocumentNode,
        GraphQLField,
        GraphQLSchema,
        SelectionNode,
        SelectionSetNode,
    )

__all__ = [
    "Fold",
    "Parent",
    "field_definition",
    "fold_document",
    "fold_operations",
    "merge_pairs",
]

#: The type whose fields a selection set selects, or None when the document names a type or
#: field the schema does not have (validation refuses those; the walk still measures them).
Parent = GraphQLObjectType | GraphQLInterfaceType | GraphQLUnionType | None

S = TypeVar("S")


class Fold(Protocol[S]):
    """What a walk computes: a value per field from what is below it, summed over siblings."""

    def empty(self) -> S:
        """The value of nothing selected."""

    def add(self, first: S, second: S) -> S:
        """Two sibling selections together."""

    def field(
        self, node: FieldNode, parent: Parent, definition: GraphQLField | None, below: S
    ) -> S:
        """One field, given the value of its own selections (`empty()` for a leaf)."""

    def included(self, node: SelectionNode) -> bool:
        """Whether the walk enters `node` (False for what `@skip`/`@include` leave out)."""


def field_definition(schema: GraphQLSchema, parent: Parent, name: str) -> GraphQLField | None:
    """The definition of field `name` on `parent`, meta fields included (None if unknown)."""
    if parent is None:
        return None
    if name == "__typename":
        return TypeNameMetaFieldDef
    if parent is schema.query_type and name in ("__schema", "__type"):
        return SchemaMetaFieldDef if name == "__schema" else TypeMetaFieldDef
    if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
        found: GraphQLField | None = parent.fields.get(name)
        return found
    return None


def _composite(schema: GraphQLSchema, name: str) -> Parent:
    named = schema.get_type(name)
    if isinstance(named, GraphQLObjectType | GraphQLInterfaceType | GraphQLUnionType):
        return named
    return None


def fold_operations(
    schema: GraphQLSchema,
    document: DocumentNode,
    fold: Fold[S],
    *,
    only: OperationDefinitionNode | None = None,
) -> list[tuple[OperationDefinitionNode, S]]:
    """Each operation of `document` (or `only` that one) with the fold of its selections.

    Only the fragments those operations reach are folded: another operation's fragment may use
    that operation's variables, which are not bound here.
    """
    operations = [
        d for d in document.definitions
        if isinstance(d, OperationDefinitionNode) and (only is None or d is only)
    ]  # fmt: skip
    folded, _ = fold_document(schema, document, fold, operations=operations)
    return folded


def fold_document(
    schema: GraphQLSchema,
    document: DocumentNode,
    fold: Fold[S],
    *,
    operations: list[OperationDefinitionNode] | None = None,
) -> tuple[list[tuple[OperationDefinitionNode, S]], list[S]]:
    """The fold of each of `operations` (default: every operation of `document`), and of each
    fragment definition no operation of the document reaches.

    graphql-core's validation walks every definition, used or not, so the bounds must measure
    the unused ones too (a fragment nobody spreads was once a way past them).
    """
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    everything = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = everything if operations is None else operations
    wanted = _reached(fragments, [d.selection_set for d in chosen])
    if operations is None:
        wanted = list(fragments)  # unused ones are folded too, on their own
    walk: _Walk[S] = _Walk(schema, fragments, fold)
    for name in _dependency_order({n: fragments[n] for n in wanted}):
        fragment = fragments[name]
        parent = _composite(schema, fragment.type_condition.name.value)
        walk.done[name] = walk.selections(fragment.selection_set, parent)
    folded = [(d, walk.selections(d.selection_set, _root(schema, d))) for d in chosen]
    used = set(_reached(fragments, [d.selection_set for d in everything]))
    unused = [walk.done[name] for name in fragments if name not in used and name in walk.done]
    return folded, unused


def _reached(
    fragments: dict[str, FragmentDefinitionNode], starts: list[SelectionSetNode]
) -> list[str]:
    """The fragments spread from `starts`, directly or through other fragments (each once)."""
    reached: dict[str, None] = {}
    pending = [name for start in starts for name in _spreads(start)]
    while pending:
        name = pending.pop()
        if name in fragments and name not in reached:
            reached[name] = None
            pending.extend(_spreads(fragments[name].selection_set))
    return list(reached)


def _root(schema: GraphQLSchema, operation: OperationDefinitionNode) -> Parent:
    """The type an operation's selections start from (issue 13: mutations are walked too)."""
    if operation.operation is OperationType.MUTATION:
        return schema.mutation_type
    return schema.query_type


class _Walk(Generic[S]):
    """The fold of one document: fragments already folded, by name."""

    def __init__(
        self, schema: GraphQLSchema, fragments: dict[str, FragmentDefinitionNode], fold: Fold[S]
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.fold = fold
        self.done: dict[str, S] = {}

    def selections(self, selection_set: SelectionSetNode | None, parent: Parent) -> S:
        # Recursion here follows only the text's own nesting, which the parser already bounded
        # (it gives up past a few hundred levels, using more frames per level than this does);
        # fragments are never entered, only looked up in `done`.
        fold = self.fold
        total = fold.empty()
        if selection_set is None:
            return total
        for selection in selection_set.selections:
            if not fold.included(selection):
                continue
            if isinstance(selection, FieldNode):
                definition = field_definition(self.schema, parent, selection.name.value)
                child = _composite(self.schema, get_named_type(definition.type).name) \
                    if definition is not None else None  # fmt: skip
                below = self.selections(selection.selection_set, child)
                total = fold.add(total, fold.field(selection, parent, definition, below))
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = _composite(self.schema, condition.name.value) if condition else parent
                total = fold.add(total, self.selections(selection.selection_set, inner))
            elif isinstance(selection, FragmentSpreadNode):
                # Unknown fragments and spreads back into a cycle add nothing (refused later).
                found = self.done.get(selection.name.value)
                if found is not None:
                    total = fold.add(total, found)
        return total


def _spreads(selection_set: SelectionSetNode) -> list[str]:
    """Names of the fragments spread anywhere below `selection_set` (each once)."""
    names: dict[str, None] = {}
    stack = [selection_set]
    while stack:
        for selection in stack.pop().selections:
            if isinstance(selection, FragmentSpreadNode):
                names[selection.name.value] = None
            elif isinstance(selection, FieldNode | InlineFragmentNode) and selection.selection_set:
                stack.append(selection.selection_set)
    return list(names)


def _dependency_order(fragments: dict[str, FragmentDefinitionNode]) -> list[str]:
    """Fragment names, each after every fragment it spreads (iterative: chains can be long);
    a spread of a fragment outside `fragments` is left out (it is not folded)."""
    spreads = {name: _spreads(f.selection_set) for name, f in fragments.items()}
    order: list[str] = []
    seen: set[str] = set()
    for start in fragments:
        if start in seen:
            continue
        seen.add(start)
        stack = [(start, iter(spreads[start]))]
        while stack:
            name, pending = stack[-1]
            for child in pending:
                if child in fragments and child not in seen:  # a seen child: done, or a cycle
                    seen.add(child)
                    stack.append((child, iter(spreads[child])))
                    break
            else:
                stack.pop()
                order.append(name)
    return order


def merge_pairs(document: DocumentNode, ceiling: int) -> int:
    """Pairs of field selections that merge into one response key, fragments expanded.

    graphql-core's OverlappingFieldsCanBeMergedRule compares every such pair (and their
    sub-selections), so its time grows with the square of each key's repeats: 250 copies of
    `me { agency { code } }`, under 2,000 tokens, took it 1.7 s. Counting stops past `ceiling`.
    The walk expands each fragment once per merged response key, as graphql-core collects
    fields, so call it only on a document whose expanded size is bounded (document_bounds).
    """
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    # Every definition, fragments too: validation compares the pairs of each, used or not.
    stack = [
        [d.selection_set]
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode | FragmentDefinitionNode)
    ]
    pairs = 0
    while stack:
        pending = stack.pop()
        keys: dict[str, list[SelectionSetNode | None]] = {}
        spread: set[str] = set()
        while pending:
            for selection in pending.pop().selections:
                if isinstance(selection, FieldNode):
                    key = (selection.alias or selection.name).value
                    keys.setdefault(key, []).append(selection.selection_set)
                elif isinstance(selection, InlineFragmentNode):
                    pending.append(selection.selection_set)
                elif isinstance(selection, FragmentSpreadNode):
                    name = selection.name.value
                    if name in fragments and name not in spread:  # once per key: no cycles
                        spread.add(name)
                        pending.append(fragments[name].selection_set)
        for merged in keys.values():
            pairs += len(merged) * (len(merged) - 1) // 2
            if pairs > ceiling:
                return pairs
            below = [s for s in merged if s is not None]
            if below:
                stack.append(below)
    return pairs
