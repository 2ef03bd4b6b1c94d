"""How much a GraphQL document asks for, measured before graphql-core validates it or it runs.

One memoised walk (gateway.graphql.bounds.walk) measures each operation as it would run, fragments
expanded: the depth of data fields and of introspection, the field selections, the aliases and
the verification fields, and the estimated cost. A document past a limit is refused with
QUERY_TOO_COMPLEX in milliseconds, before graphql-core's own rules walk it (issue 9: a
fragment diamond froze the server for 27 s; aliases counted as written let a 784-byte query
run for 31 s).

The cost follows Apollo's demand control: every field costs 1, and what is below a list is
multiplied by the list's assumed size. A page (`persons(first: N) { edges { ... } }`) holds
`first` edges (the argument's default when absent, never more than the page cap, as the
resolver refuses more); a link list of a record (`Person.licenses`) holds
`limits.records_per_link`; an introspection list holds what the agency's schema holds on average
(`__Schema.types` all its types, `__Type.fields` its fields per type). The costs of a batch's
operations add up: the limit is on the request as a whole (gateway.graphql.execution).
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLUnionType,
    IntValueNode,
    OperationDefinitionNode,
    VariableNode,
    get_nullable_type,
    is_list_type,
)

from gateway.graphql.bounds.walk import fold_document, merge_pairs

if TYPE_CHECKING:
    from graphql import (
        DocumentNode,
        FieldNode,
        GraphQLField,
        GraphQLSchema,
        SelectionNode,
    )

    from gateway.graphql.bounds.walk import Parent
    from gateway.settings import Limits

__all__ = ["CEILING", "INTROSPECTION_DEPTH", "Bounds", "Measure", "measure"]

#: Counts saturate here (2^53 - 1): the largest integer a JSON client reads exactly, and far
#: past any limit. A diamond of 190 levels would otherwise report 2^190 fields.
CEILING = 2**53 - 1

#: Introspection is answered from memory, but its nesting still needs a bound; GraphiQL's own
#: schema query is 13 levels deep.
INTROSPECTION_DEPTH = 20

#: The Relay connection convention of resolvers/root.py (`_connection`), as Apollo's
#: `@listSize(slicingArguments: ["first"], sizedFields: ["edges"])` would declare it: the
#: `edges` list of a connection holds as many items as the field returning it asked for.
SLICING_ARGUMENT = "first"
SIZED_FIELD = "edges"


def _literal(node: IntValueNode) -> int | None:
    """An Int literal's value; None past 18 digits (far past any page, and Python refuses to
    convert more than 4,300, which would be an internal error instead of a refusal)."""
    digits = node.value
    return int(digits) if len(digits.lstrip("-")) <= 18 else None


def _sum(first: int, second: int) -> int:
    return min(CEILING, first + second)


def _times(size: float, value: int) -> int:
    """`size` items of `value` each, rounded up (an average size may be a fraction)."""
    return min(CEILING, math.ceil(size * value))


@dataclass(frozen=True, slots=True)
class Measure:
    """What a selection asks for once fragments are expanded (counts saturate at CEILING)."""

    #: Levels of nested data fields, and of introspection fields (`__schema`, `__typename`...).
    data_depth: int = 0
    introspection_depth: int = 0
    #: Field selections, aliased ones and verification fields (`verify...`), as they run.
    fields: int = 0
    aliases: int = 0
    verifications: int = 0
    #: Estimated cost; `per_item` is the cost of a connection's `edges` per item of the page,
    #: multiplied in by the field that returns the connection (it knows `first`).
    cost: int = 0
    per_item: int = 0

    def __add__(self, other: Measure) -> Measure:
        return Measure(
            data_depth=max(self.data_depth, other.data_depth),
            introspection_depth=max(self.introspection_depth, other.introspection_depth),
            fields=_sum(self.fields, other.fields),
            aliases=_sum(self.aliases, other.aliases),
            verifications=_sum(self.verifications, other.verifications),
            cost=_sum(self.cost, other.cost),
            per_item=_sum(self.per_item, other.per_item),
        )


_INTROSPECTION_SIZES: weakref.WeakKeyDictionary[GraphQLSchema, dict[str, float]] = (
    weakref.WeakKeyDictionary()
)


def _introspection_sizes(schema: GraphQLSchema) -> dict[str, float]:
    """`Type.field` -> assumed length of each introspection list, from the schema itself.

    A list nested in another (`types { fields }`) is sized by its average per parent (a
    fraction, zero for what the schema has none of), so `types { fields }` is estimated at the
    schema's number of fields, while each further level of `type { fields { type { fields ...`
    multiplies the estimate as it multiplies the work.
    """
    sizes = _INTROSPECTION_SIZES.get(schema)
    if sizes is not None:
        return sizes
    types = list(schema.type_map.values())
    fields = [f for t in types if isinstance(t, GraphQLObjectType | GraphQLInterfaceType)
              for f in t.fields.values()]  # fmt: skip
    directives = list(schema.directives)

    def per(total: int, parents: int) -> float:
        return total / max(1, parents)

    sizes = {
        "__Schema.types": len(types),
        "__Schema.directives": len(directives),
        "__Type.fields": per(len(fields), len(types)),
        "__Type.interfaces": per(
            sum(len(t.interfaces) for t in types
                if isinstance(t, GraphQLObjectType | GraphQLInterfaceType)), len(types)),
        "__Type.possibleTypes": per(
            sum(len(t.types) for t in types if isinstance(t, GraphQLUnionType))
            + sum(1 for t in types if isinstance(t, GraphQLObjectType) and t.interfaces),
            len(types)),
        "__Type.enumValues": per(
            sum(len(t.values) for t in types if isinstance(t, GraphQLEnumType)), len(types)),
        "__Type.inputFields": per(
            sum(len(t.fields) for t in types if isinstance(t, GraphQLInputObjectType)),
            len(types)),
        "__Field.args": per(sum(len(f.args) for f in fields), len(fields)),
        "__Directive.args": per(sum(len(d.args) for d in directives), len(directives)),
    }  # fmt: skip
    _INTROSPECTION_SIZES[schema] = sizes
    return sizes


class _Measuring:
    """The fold that measures (gateway.graphql.bounds.walk.Fold): directives are ignored, so what
    `@skip` would leave out still counts (a bound, not a prediction)."""

    def __init__(
        self,
        schema: GraphQLSchema,
        limits: Limits,
        variables: dict[str, Any],
        defaults: dict[str, int],
    ) -> None:
        self.introspection = _introspection_sizes(schema)
        self.limits = limits
        self.variables = variables
        #: Variables' default values in the document (the largest, where operations differ).
        self.defaults = defaults
        #: Whether some `first:` is a variable: then the cost depends on the request.
        self.sized_by_variables = False

    def empty(self) -> Measure:
        return Measure()

    def add(self, first: Measure, second: Measure) -> Measure:
        return first + second

    def included(self, node: SelectionNode) -> bool:
        return True

    def field(
        self, node: FieldNode, parent: Parent, definition: GraphQLField | None, below: Measure
    ) -> Measure:
        name = node.name.value
        if name.startswith("__") or (parent is not None and parent.name.startswith("__")):
            data_depth = 0
            introspection_depth = 1 + max(below.data_depth, below.introspection_depth)
        else:
            data_depth, introspection_depth = 1 + below.data_depth, below.introspection_depth
        inner = below.cost
        if below.per_item:
            inner = _sum(inner, _times(self.page(node, definition), below.per_item))
        cost, per_item = 1, 0
        listed = definition is not None and is_list_type(get_nullable_type(definition.type))
        if listed and name == SIZED_FIELD and parent is not None \
                and parent.name.endswith("Connection"):  # fmt: skip
            per_item = inner  # sized by the field above, which knows `first`
        elif listed and parent is not None:
            size = self.introspection.get(f"{parent.name}.{name}", self.limits.records_per_link)
            cost = _sum(1, _times(size, inner))
        else:
            cost = _sum(1, inner)
        return Measure(
            data_depth=data_depth,
            introspection_depth=introspection_depth,
            fields=_sum(1, below.fields),
            aliases=_sum(below.aliases, node.alias is not None),
            verifications=_sum(below.verifications, name.startswith("verify")),
            cost=cost,
            per_item=per_item,
        )

    def page(self, node: FieldNode, definition: GraphQLField | None) -> int:
        """How many items the page this field returns holds, at most (the cap bounds it)."""
        value: object = None
        argument = definition.args.get(SLICING_ARGUMENT) if definition else None
        default = argument.default_value if argument is not None else None
        given = next((a for a in node.arguments or () if a.name.value == SLICING_ARGUMENT), None)
        if given is None:
            value = default
        elif isinstance(given.value, IntValueNode):
            value = _literal(given.value)
        elif isinstance(given.value, VariableNode):
            self.sized_by_variables = True
            name = given.value.name.value
            # A variable left out is its default, or else leaves the argument out (GraphQL).
            value = self.variables.get(name, self.defaults.get(name, default))
        cap = self.limits.max_page_size
        if not isinstance(value, int) or isinstance(value, bool):
            return cap  # not a number: refused when the variables are coerced
        # Past the cap the resolver refuses the page (nothing is read), so it never costs more.
        return min(max(value, 0), cap)


@dataclass(frozen=True, slots=True)
class Bounds:
    """A parsed document with the measure of each of its operations."""

    document: DocumentNode
    #: (operation name or None, its measure), in document order.
    operations: tuple[tuple[str | None, Measure], ...]
    #: The whole document's field selections as they run (every operation).
    fields: int
    #: Pairs of selections merged into one response key (document_walk.merge_pairs); counted
    #: only once `fields` is within its limit, as the walk expands fragments.
    merges: int = 0
    #: Whether a `first:` takes a variable (the cost is then measured again per request).
    sized_by_variables: bool = False

    def refusals(self, limits: Limits) -> list[str]:
        """Why the document is too complex to run (empty when it is within every limit).

        Depth, aliases, verifications and size only: the cost is the request's (a batch adds
        its operations up), so the caller checks it.
        """
        problems = []
        if self.fields > limits.max_expanded_fields:
            problems.append(
                f"The query selects {self.fields} fields once its fragments are expanded; the "
                f"limit is {limits.max_expanded_fields}. Spread each fragment where it is "
                "needed once, or split the query into several."
            )
        elif self.merges > limits.max_merge_pairs:
            problems.append(
                f"The query selects the same fields over and over: {self.merges} pairs of "
                "selections share a response name once its fragments are expanded, and each "
                f"pair must be checked; the limit is {limits.max_merge_pairs}. Select each "
                "field once per object."
            )
        for _, measure in self.operations:
            for depth, limit in ((measure.data_depth, limits.max_depth),
                                 (measure.introspection_depth, INTROSPECTION_DEPTH)):  # fmt: skip
                if depth > limit:
                    problems.append(
                        f"The query nests {depth} levels deep; the limit is {limit}. Split it "
                        "into several queries."
                    )
                    break
        verifications = max((m.verifications for _, m in self.operations), default=0)
        if verifications > limits.max_verifications:
            problems.append(
                f"The query verifies {verifications} claims; the limit is "
                f"{limits.max_verifications}. Verification checks a citizen's claim (Art. 24); "
                "it is not a way to read records in bulk."
            )
        aliases = max((m.aliases for _, m in self.operations), default=0)
        if aliases > limits.max_aliases:
            problems.append(
                f"The query uses {aliases} aliases once its fragments are expanded; the limit "
                f"is {limits.max_aliases}. Ask for fewer records at once, or use a list field."
            )
        return problems

    def cost(
        self,
        schema: GraphQLSchema,
        limits: Limits,
        operation_name: str | None,
        variables: dict[str, Any] | None,
    ) -> int:
        """The estimated cost of running `operation_name` (0 when no operation would run)."""
        bounds = self
        if self.sized_by_variables and variables:
            bounds = measure(self.document, schema, limits, variables)
        return bounds._chosen(operation_name)

    def verifications(self, operation_name: str | None) -> int:
        """Verification fields that running `operation_name` runs (0 when none would run)."""
        chosen = self._measure_of(operation_name)
        return chosen.verifications if chosen is not None else 0

    def _chosen(self, operation_name: str | None) -> int:
        chosen = self._measure_of(operation_name)
        return chosen.cost if chosen is not None else 0

    def _measure_of(self, operation_name: str | None) -> Measure | None:
        found = [m for name, m in self.operations
                 if operation_name is None or name == operation_name]  # fmt: skip
        # Execution refuses an ambiguous or unknown operation name before anything runs.
        return found[0] if len(found) == 1 else None


def measure(
    document: DocumentNode,
    schema: GraphQLSchema,
    limits: Limits,
    variables: dict[str, Any] | None = None,
) -> Bounds:
    """The bounds of `document` against the agency's `schema` (variables size the pages)."""
    defaults: dict[str, int] = {}
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode):
            continue
        for variable in definition.variable_definitions or ():
            if isinstance(variable.default_value, IntValueNode):
                name = variable.variable.name.value
                value = _literal(variable.default_value)
                if value is not None:
                    defaults[name] = max(value, defaults.get(name, value))
    fold = _Measuring(schema, limits, variables or {}, defaults)
    measured, unused = fold_document(schema, document, fold)
    operations = tuple((d.name.value if d.name else None, m) for d, m in measured)
    total = 0
    for m in [m for _, m in operations] + unused:  # validation walks unused fragments too
        total = _sum(total, m.fields)
    within = total <= limits.max_expanded_fields
    return Bounds(
        document=document,
        operations=operations,
        fields=total,
        merges=merge_pairs(document, limits.max_merge_pairs) if within else 0,
        sized_by_variables=fold.sized_by_variables,
    )
