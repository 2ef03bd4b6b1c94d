"""Hypothesis strategies: odd text and numbers, JSON bodies spelled every way, GraphQL operations
generated from an agency's own schema and then dressed up as an attacker would.

`hypothesis_graphql` draws a valid selection of the agency's schema with random arguments; the
rewrite here then, at random, puts real record keys (in and out of the agency's division) and
odd text into the arguments, moves arguments into variables (of the right type or not), adds
aliases, copies of fields, named and inline fragments, `@skip`/`@include`, operation names and
a second operation, and now and then breaks the text itself.
"""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from graphql import (
    ArgumentNode,
    BooleanValueNode,
    DirectiveNode,
    DocumentNode,
    FieldNode,
    FloatValueNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLObjectType,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    NamedTypeNode,
    NameNode,
    NullValueNode,
    ObjectFieldNode,
    ObjectValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    StringValueNode,
    VariableDefinitionNode,
    VariableNode,
    get_named_type,
    parse_type,
    print_ast,
    value_from_ast_untyped,
)
from hypothesis import strategies as st
from hypothesis_graphql import queries

from tests.fuzz.oracle import RECORD_KEYS

if TYPE_CHECKING:
    from graphql import GraphQLSchema, ValueNode

    from tests.fuzz.oracle import Divisions

__all__ = [
    "Body",
    "Operation",
    "Raw",
    "encode_json",
    "json_values",
    "odd_numbers",
    "odd_text",
    "operations",
]


class Body(bytes):
    """A request body that a failing example prints short (the exchange shows it whole)."""

    def __repr__(self) -> str:
        return f"Body({bytes(self[:200])!r}... {len(self)} bytes)"


class Raw(str):
    """JSON text written into a body as it is (`1e400`, `NaN`, a 400-digit integer)."""

    __slots__ = ()


#: Pieces an attacker puts into text: NUL, direction marks, a BOM, a combining accent, a
#: character outside the BMP, full-width digits, LIKE and escape characters, quotes, line
#: breaks, markup, SQL, a lone surrogate of each half.
_PIECES = [
    "\x00",
    "\u202e",
    "\u200f",
    "\u202a",
    "\ufeff",
    "e\u0301",
    "\U0001f600",
    "\U0010ffff",
    "\uff11\uff18",
    "%",
    "_",
    "/",
    "\\",
    "'",
    '"',
    "\n",
    "\r\n",
    "\t",
    "\u2028",
    "\x7f",
    "\ufffd",
    "</script>",
    "' OR 1=1 --",
    "${jndi:x}",
    "\ud800",
    "\udfff",
    "\udbff\udbff",
    "\u5f20\u4e09",
    "X",
    "x",
    " ",
]


def odd_text(*, max_size: int = 40) -> st.SearchStrategy[str]:
    """Text of every kind an attacker might send, lone surrogates and very long runs included."""
    pieces = st.lists(st.sampled_from(_PIECES) | st.text(max_size=6), max_size=max_size)
    return st.one_of(
        st.text(max_size=max_size),
        pieces.map("".join),
        st.builds(
            lambda piece, n: piece * n,
            st.sampled_from([*_PIECES[:-3], "a", "%_"]),
            st.integers(1_000, 40_000),
        ),
        st.sampled_from(["", " ", "\ud800", "\x00", "null", "\u202eLOOKS-OK"]),
    )


def odd_numbers() -> st.SearchStrategy[Any]:
    """Numbers JSON and GraphQL cannot all carry: huge, negative, fractional, non-finite."""
    return st.one_of(
        st.integers(-(2**70), 2**70),
        st.sampled_from(
            [0, -1, 2**31, 2**31 - 1, -(2**31) - 1, 2**53 + 1, 2**63, 2**64, 10**400, -(10**30)]
        ),
        st.floats(allow_nan=True, allow_infinity=True),
        st.sampled_from(
            [
                Raw("1e400"),
                Raw("-1e400"),
                Raw("NaN"),
                Raw("Infinity"),
                Raw("-0"),
                Raw("1E-400"),
                Raw("1" * 5_000),
                Raw("0.1e99999"),
            ]
        ),
    )


def json_values(*, depth: int = 3) -> st.SearchStrategy[Any]:
    """Any JSON value, odd text and numbers included."""
    leaves = st.one_of(st.none(), st.booleans(), odd_numbers(), odd_text(max_size=10))
    return st.recursive(leaves, _containers, max_leaves=3 * depth)


def _containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """JSON arrays and objects of `inner` values (a function: Hypothesis reads its source)."""
    return st.lists(inner, max_size=4) | st.dictionaries(odd_text(max_size=8), inner, max_size=4)


def encode_json(value: Any, *, ascii_only: bool = True) -> bytes:
    """`value` as JSON bytes, spelled as an attacker may: strings with lone surrogates as
    `\\ud800` escapes (`ascii_only`) or as their raw UTF-8 bytes (ED A0 80), non-finite and
    out-of-range numbers as written, `Raw` text verbatim."""
    text = _encode(value, ascii_only)
    return text.encode("utf-8", "surrogatepass")


def _encode(value: Any, ascii_only: bool) -> str:
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, str | bool | int) or value is None:
        return json.dumps(value, ensure_ascii=ascii_only)
    if isinstance(value, dict):
        members = (
            f"{_encode(str(k), ascii_only)}:{_encode(v, ascii_only)}" for k, v in value.items()
        )
        return "{" + ",".join(members) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_encode(v, ascii_only) for v in value) + "]"
    raise TypeError(f"cannot encode {type(value).__name__}")


def _number(value: float) -> str:
    """A float as JavaScript would write it into JSON, non-finite values included."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return repr(value)


@dataclass
class Operation:
    """One operation object of a request body, and what the oracle needs to check its answer."""

    query: str
    variables: Any = None
    operation_name: Any = None
    #: Whether `variables` / `operationName` go into the body at all.
    send_variables: bool = False
    send_name: bool = False
    #: Further members of the operation object (an APQ hash, an unknown member...).
    extra: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        # Hypothesis prints each draw of a failing example; the body shows the whole text.
        return f"Operation({self.query[:300]!r}...)"

    def body(self) -> dict[str, Any]:
        """The operation object as sent."""
        body: dict[str, Any] = {"query": self.query}
        if self.send_variables:
            body["variables"] = self.variables
        if self.send_name:
            body["operationName"] = self.operation_name
        return {**body, **self.extra}


#: Arguments whose value is a record key, and the type of the record.
_KEY_ARGUMENTS = {
    "idNumber": "Person",
    "creditCode": "LegalEntity",
    "parcelCode": "LandParcel",
    "licenseNumber": "License",
    "holderId": "Person",
}


def _literal_list(values: list[ValueNode]) -> ValueNode:
    return ListValueNode(values=tuple(values))


def _literal_object(values: list[ValueNode]) -> ValueNode:
    members = (ObjectFieldNode(name=NameNode(value=f"k{i}"), value=v) for i, v in enumerate(values))
    return ObjectValueNode(fields=tuple(members))


def _literal_containers(inner: st.SearchStrategy[ValueNode]) -> st.SearchStrategy[ValueNode]:
    """GraphQL list and object literals of `inner` values."""
    return st.lists(inner, max_size=3).map(_literal_list) | st.lists(inner, max_size=3).map(
        _literal_object
    )


def json_scalar_nodes() -> st.SearchStrategy[ValueNode]:
    """GraphQL literals for the JSON scalar (`confirms(data:)`), odd numbers included."""
    leaves: st.SearchStrategy[ValueNode] = st.one_of(
        st.just(NullValueNode()),
        st.booleans().map(lambda b: BooleanValueNode(value=b)),
        st.integers(-(2**70), 2**70).map(lambda i: IntValueNode(value=str(i))),
        st.sampled_from(["1e400", "-1e400", "0.5", "1e-400", "9" * 400 + ".0"]).map(
            lambda f: FloatValueNode(value=f)
        ),
        odd_text(max_size=8).map(lambda s: StringValueNode(value=s)),
    )
    return st.recursive(
        leaves,
        _literal_containers,
        max_leaves=6,
    )


class _Rewrite:
    """Dresses up one generated document (see the module docstring)."""

    def __init__(
        self, draw: st.DrawFn, schema: GraphQLSchema, divisions: Divisions, division: str | None
    ) -> None:
        self.draw = draw
        self.schema = schema
        self.divisions = divisions
        self.division = division
        self.names = 0
        self.fragments: list[FragmentDefinitionNode] = []
        self.definitions: list[VariableDefinitionNode] = []
        self.variables: dict[str, Any] = {}
        # How much of each trick this document gets (drawn once: documents differ in style).
        chance = st.sampled_from([0.0, 0.1, 0.3, 0.6])
        self.p_alias, self.p_variable, self.p_fragment = draw(chance), draw(chance), draw(chance)
        self.p_directive, self.p_key, self.p_copy = draw(chance), draw(chance), draw(chance)
        # Odd text is refused before anything runs: most documents get none, to reach the data.
        self.p_odd = draw(st.sampled_from([0.0, 0.0, 0.0, 0.05, 0.2]))

    def name(self, prefix: str) -> str:
        self.names += 1
        return f"{prefix}{self.names}"

    def maybe(self, probability: float) -> bool:
        """True about `probability` of the time (Hypothesis favours small numbers, so not by
        comparing a drawn number: by drawing from twenty, the True ones last)."""
        trues = round(probability * 20)
        if trues <= 0:
            return False
        return self.draw(st.sampled_from([False] * (20 - trues) + [True] * trues))

    def selection_set(self, node: SelectionSetNode, parent: GraphQLObjectType) -> SelectionSetNode:
        selections: list[Any] = []
        for selection in node.selections:
            if not isinstance(selection, FieldNode):
                selections.append(selection)
                continue
            selections.append(self.field(selection, parent))
            if selection.arguments and self.maybe(self.p_copy):  # the same field again, aliased
                selections.append(self.field(selection, parent, alias=self.name("c")))
        key = RECORD_KEYS.get(parent.name)
        if key is not None and key in parent.fields:  # the oracle needs it for Art. 21
            selections.append(FieldNode(name=NameNode(value=key)))
        if self.maybe(self.p_directive):
            selections.append(FieldNode(name=NameNode(value="__typename")))
        if len(selections) > 1 and self.maybe(self.p_fragment):
            start = self.draw(st.integers(0, len(selections) - 1))
            end = self.draw(st.integers(start + 1, len(selections)))
            moved = SelectionSetNode(selections=tuple(selections[start:end]))
            if self.draw(st.booleans()):
                fragment = self.name("F")
                self.fragments.append(
                    FragmentDefinitionNode(
                        name=NameNode(value=fragment),
                        type_condition=NamedTypeNode(name=NameNode(value=parent.name)),
                        selection_set=moved,
                    )
                )
                spread: Any = FragmentSpreadNode(name=NameNode(value=fragment))
            else:
                condition = NamedTypeNode(name=NameNode(value=parent.name))
                spread = InlineFragmentNode(
                    type_condition=condition if self.draw(st.booleans()) else None,
                    selection_set=moved,
                    directives=(),
                )
            selections[start:end] = [spread]
        return SelectionSetNode(selections=tuple(selections))

    def field(
        self, node: FieldNode, parent: GraphQLObjectType, alias: str | None = None
    ) -> FieldNode:
        definition = parent.fields[node.name.value]
        arguments = tuple(
            self.argument(a, definition.args[a.name.value].type) for a in node.arguments or ()
        )
        below = None
        if node.selection_set is not None:
            child = get_named_type(definition.type)
            if isinstance(child, GraphQLObjectType):
                below = self.selection_set(node.selection_set, child)
        if alias is None and self.maybe(self.p_alias):
            alias = self.name("a")
        directives: tuple[DirectiveNode, ...] = ()
        if self.maybe(self.p_directive):
            directives = (self.directive(),)
        return FieldNode(
            alias=NameNode(value=alias) if alias else node.alias,
            name=node.name,
            arguments=arguments,
            directives=directives,
            selection_set=below,
        )

    def directive(self) -> DirectiveNode:
        kind = self.draw(st.sampled_from(["include", "skip"]))
        value: Any = BooleanValueNode(value=self.draw(st.booleans()))
        if self.maybe(0.5):
            name = self.name("v")
            wrong = self.maybe(self.p_odd)
            self.declare(
                name, "Boolean!", self.draw(json_values(depth=1) if wrong else st.booleans())
            )
            value = VariableNode(name=NameNode(value=name))
        return DirectiveNode(
            name=NameNode(value=kind),
            arguments=(ArgumentNode(name=NameNode(value="if"), value=value),),
        )

    def argument(self, node: ArgumentNode, type_: Any) -> ArgumentNode:
        value: Any = node.value
        name = node.name.value
        if name in _KEY_ARGUMENTS and self.maybe(max(self.p_key, 0.5)):
            value = StringValueNode(value=self.key(_KEY_ARGUMENTS[name]))
        elif name == "after" and self.maybe(0.5):
            value = StringValueNode(value=self.cursor())
        elif name == "first" and self.maybe(0.3):
            value = IntValueNode(
                value=str(
                    self.draw(st.sampled_from([0, -1, 1, 100, 101, 2**31, 10**30, -(10**30)]))
                )
            )
        elif str(type_).startswith("String") and self.maybe(self.p_odd):
            value = StringValueNode(value=self.draw(odd_text()), block=self.draw(st.booleans()))
        if self.maybe(self.p_variable):
            variable = self.name("v")
            given = value_from_ast_untyped(value) if not isinstance(value, VariableNode) else None
            if self.maybe(self.p_odd):
                given = self.draw(json_values(depth=2) | odd_numbers() | odd_text())
            self.declare(variable, str(type_), given)
            value = VariableNode(name=NameNode(value=variable))
        return ArgumentNode(name=node.name, value=value)

    def declare(self, name: str, type_: str, value: Any) -> None:
        self.definitions.append(
            VariableDefinitionNode(
                variable=VariableNode(name=NameNode(value=name)),
                type=parse_type(type_),
                directives=(),
            )
        )
        if not self.maybe(0.05):  # now and then left out: its default, or an error
            self.variables[name] = value

    def key(self, entity: str) -> str:
        own = self.divisions.keys(entity, self.division) if self.division else []
        other = self.divisions.keys(entity, f"!{self.division}") if self.division else []
        every = self.divisions.keys(entity)
        pool = [p for p in (own, other, every) if p]
        key = self.draw(st.sampled_from(self.draw(st.sampled_from(pool))))
        return self.draw(
            st.sampled_from(
                [
                    key,
                    key,
                    key,
                    key,
                    key.lower(),
                    f" {key} ",
                    key[:-1],
                    key + "0",
                    key.replace("X", "x"),
                ]
            )
        )

    def cursor(self) -> str:
        entity = self.draw(st.sampled_from(sorted(RECORD_KEYS)))
        key = self.draw(st.sampled_from(self.divisions.keys(entity)))
        return self.draw(
            st.sampled_from(
                [
                    base64.urlsafe_b64encode(f"v1:{key}".encode()).decode(),
                    base64.urlsafe_b64encode(b"v1:\x00\xff").decode(),
                    base64.urlsafe_b64encode("v1:\ud800".encode("utf-8", "surrogatepass")).decode(),
                    "v1:" + key,
                    "====",
                    "",
                ]
            )
        )


@st.composite
def operations(
    draw: st.DrawFn, schema: GraphQLSchema, divisions: Divisions, division: str | None
) -> Operation:
    """One operation generated from `schema` (the agency's own), dressed up at random."""
    generated = draw(
        queries(
            schema,
            custom_scalars={"JSON": json_scalar_nodes()},
            print_ast=lambda document: document,
        )
    )
    if not isinstance(generated, DocumentNode):
        raise TypeError("hypothesis_graphql gave no document")
    root = schema.query_type
    if root is None:
        raise TypeError("the agency's schema has no Query type")
    rewrite = _Rewrite(draw, schema, divisions, division)
    first = generated.definitions[0]
    if not isinstance(first, OperationDefinitionNode):
        raise TypeError("hypothesis_graphql gave no operation first")
    selection = rewrite.selection_set(first.selection_set, root)
    name = rewrite.name("Op") if draw(st.booleans()) else None
    operation = OperationDefinitionNode(
        operation=OperationType.QUERY,
        name=NameNode(value=name) if name else None,
        variable_definitions=tuple(rewrite.definitions),
        directives=(),
        selection_set=selection,
    )
    definitions: list[Any] = [operation, *rewrite.fragments]
    if name and draw(st.booleans()):  # a second operation: the name chooses
        definitions.append(
            OperationDefinitionNode(
                operation=OperationType.QUERY,
                name=NameNode(value="Other"),
                variable_definitions=(),
                directives=(),
                selection_set=SelectionSetNode(
                    selections=(FieldNode(name=NameNode(value="__typename")),)
                ),
            )
        )
    query = print_ast(DocumentNode(definitions=tuple(definitions)))
    if draw(st.integers(0, 19)) == 0:  # now and then a broken text: cut, or odd text inserted
        at = draw(st.integers(0, len(query)))
        query = query[:at] + draw(st.sampled_from(["", *_PIECES, '"\\ud800"', "\\", "{", "}"]))
    chosen = draw(st.sampled_from([name, name, "Other", None, "Missing", "\ud800", "\u202e"]))
    variables: Any = rewrite.variables
    if not variables and draw(st.integers(0, 9)) == 0:  # not an object, or null
        variables = draw(st.sampled_from([None, [], "x", 0]))
    return Operation(
        query=query,
        variables=variables,
        operation_name=chosen,
        send_variables=bool(rewrite.variables) or draw(st.booleans()),
        send_name=(name is not None and draw(st.booleans())) or draw(st.integers(0, 9)) == 0,
        extra=draw(
            st.sampled_from(
                [
                    {},
                    {},
                    {},
                    {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}},
                    {"unknown": 1},
                ]
            )
        ),
    )
