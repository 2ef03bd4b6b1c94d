"""What a compiled plan is made of: statements (slots), record shapes (nodes) and root fields.

    Plan
    ├── roots       one per response key of the operation, in response order:
    │               Lookup, Listing, Verify, Typename
    ├── keyed       statements matching rows on a column (look-ups and links), by level
    └── read        the `Type.field`s the operation reads (gateway.graphql.reads)

A *slot* is one statement of one request; its rows land in the request's `results[slot]`.
A *node* is one place in the response where records of one type appear, with its *ops*: how
each response key of a record is made from the record's row (indexes into the slot's
columns). Everything here is decided at compile time and shared by every request that runs
the plan; only `Keyed.sql` (statement texts per dialect) fills in as dialects are met.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from graphql import (
        FieldNode,
        GraphQLField,
        GraphQLSchema,
        OperationDefinitionNode,
    )

__all__ = [
    "CHECKED",
    "COLUMN",
    "CONST",
    "CURSOR",
    "EDGES",
    "END_CURSOR",
    "HAS_NEXT",
    "ISSUER",
    "LINK",
    "MATCH",
    "NODE",
    "PAGE_INFO",
    "SEAL",
    "Keyed",
    "Link",
    "Listing",
    "Lookup",
    "Node",
    "Op",
    "Plan",
    "Projection",
    "Root",
    "SealColumns",
    "Typename",
    "Verify",
]

# What an op does (the second member of an `Op`).
CONST = 0  # a fixed value: `__typename`
COLUMN = 1  # a column of the row, converted: a = index, b = converter or None
LINK = 2  # records of a linked type: a = Link
ISSUER = 3  # the issuing agency from the catalogue: a = index of issuer_code, b = Projection
SEAL = 4  # the licence's seal, checked: a = SealColumns, b = Projection
EDGES = 5  # a page's edges: a = the edge's ops
PAGE_INFO = 6  # a page's pageInfo: a = Projection
CURSOR = 7  # an edge's cursor
NODE = 8  # an edge's record: a = Node
HAS_NEXT = 9  # pageInfo.hasNextPage
END_CURSOR = 10  # pageInfo.endCursor
MATCH = 11  # Verification.match
CHECKED = 12  # Verification.checked

#: (response key, what, a, b): one response key of an object.
Op = tuple[str, int, Any, Any]
#: (response key, attribute or None, constant): an object made from a mapping of values
#: (Agency, Seal); the constant is used where the attribute is None (`__typename`).
Projection = tuple[tuple[str, str | None, Any], ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Node:
    """Where records of `entity` appear: each record's response object is `ops` over its row.

    `id` numbers the node within its plan (the request keeps each node's rows by it, to find
    the keys its links need); `key` is the index of the record's key column (the audit notes
    `Type:key` for every record put into the response).
    """

    id: int
    entity: str
    slot: int
    key: int
    ops: tuple[Op, ...]
    links: tuple[Link, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Link:
    """A link field of a node: its records come from statement `slot`, matched on the
    parent's column `parent_key` (only from parents whose column `parent_kind` holds
    `kind_value`, when `parent_kind` >= 0)."""

    slot: int
    #: The level of the statement (1 below the root fields, 2 below that, ...).
    level: int
    parent_key: int
    parent_kind: int
    kind_value: str | None
    many: bool
    node: Node
    #: The field's nodes in the document: where an error on this field points.
    nodes: tuple[FieldNode, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class SealColumns:
    """Where the seal check finds its inputs in a licence row (joined with the registry)."""

    #: column -> index, for every column `sources.seal.seal_holds` reads.
    record: Mapping[str, int]
    key_id: int
    registry_issuer: int
    registry_algorithm: int
    registry_key: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Keyed:
    """A statement for rows of `source` whose `by` column is one of the request's keys.

    Root look-ups take their keys from their arguments; links (`feeds`: the parent node and
    the link) from the rows of the level above, so every level costs one statement per link
    whatever the number of records. `seal` joins the seal registry (`issuer_keys`, in the
    licences database) to each row.
    """

    slot: int
    level: int
    source: str
    by: str
    by_index: int
    kind: tuple[str, str] | None
    columns: tuple[str, ...]
    seal: bool
    feeds: tuple[tuple[int, Link], ...]
    #: (dialect, number of keys or 0 for "any number") -> statement text.
    sql: dict[tuple[str, int], tuple[str, list[Any]]] = field(default_factory=dict, compare=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Root:
    """A root field: its response key, the document's nodes for it, its schema field, and its
    arguments when they are literals (coerced once at compile time)."""

    key: str
    nodes: tuple[FieldNode, ...]
    field: GraphQLField | None
    arguments: Mapping[str, Any] | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Typename(Root):
    """`__typename` at the root."""

    value: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Lookup(Root):
    """`person(idNumber:)` and the like: one record by its identifier."""

    argument: str
    #: The identifier's check: raw argument -> normalised key (InvalidIdentifierError).
    parse: Callable[[str], str]
    slot: int
    node: Node


@dataclass(frozen=True, slots=True, kw_only=True)
class Listing(Root):
    """`persons(first:, after:, ...)` and the like: a page in key order, with its filters."""

    entity: str
    source: str
    slot: int
    columns: tuple[str, ...]
    seal: bool
    key_index: int
    #: How the page's rows become the connection object (CONST, EDGES, PAGE_INFO ops).
    ops: tuple[Op, ...]
    #: The node of each edge's `node` (several for aliased `edges`): their links follow.
    below: tuple[Node, ...]
    #: Whether an edge's `cursor` is selected (else only `endCursor` needs one).
    cursors: bool
    #: (argument, how, column), in the order the resolver checks them: how is `like` (name
    #: prefix), `division` (a division code), `eq` or `bbox`.
    filters: tuple[tuple[str, str, str], ...]
    sql: dict[tuple[Any, ...], tuple[str, list[Any]]] = field(default_factory=dict, compare=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Verify(Root):
    """`verifyPerson(idNumber:, ...)`: does the claim match the record (Art. 24)?"""

    slot: int
    ops: tuple[Op, ...]
    sql: dict[tuple[Any, ...], tuple[str, list[Any]]] = field(default_factory=dict, compare=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """One operation of one document, compiled for one grant set and row scope."""

    schema: GraphQLSchema
    operation: OperationDefinitionNode
    roots: tuple[Root, ...]
    keyed: tuple[Keyed, ...]
    levels: int
    slots: int
    nodes: int
    #: `Type.field`s the operation reads (gateway.graphql.reads): the same whatever the
    #: variables, since a plannable operation has no `@skip`/`@include` on a variable.
    read: frozenset[str]
    #: Statements one request runs at most, whatever the number of records: the plan's cost.
    statements: int
    #: Whether the operation verifies claims (`verifyPerson`).
    verifies: bool
