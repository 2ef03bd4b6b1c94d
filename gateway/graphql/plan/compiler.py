"""Compile a validated operation into a `Plan`, once per policy, grant set, scope and document.

Plannable: query operations whose root fields are the look-ups (`person`, `legalEntity`,
`landParcel`, `license`), the lists (`persons`, `legalEntities`, `landParcels`, `licenses`),
`verifyPerson` and `__typename`, with any nesting of record fields and links, aliases,
fragments and inline fragments, and `@skip`/`@include` with literal arguments. Fields are
collected with graphql-core's own `collect_fields`, so response keys come in its order and
merge by its rules; fragments are expanded here, once. Anything else (`me`, `voucher`,
`freshness`, introspection, a directive on a variable) is not plannable: `compile_plan`
answers None and the operation runs on the resolver path.

Columns are what the resolver path reads (`resolvers.fetch.columns_for`: selected and
granted, plus what links and the seal check need); rows are scoped by the agency's row scope
(Art. 21), written into each statement.

Past ~400 lines on purpose: it is one pass over one document, and root fields, records, links
and projections share the draft state and the slot table (`_Compiler`); split, each part would
reach into the others' private state (docs/architecture.md, "Modules over ~400 lines").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    GraphQLObjectType,
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    OperationType,
    VariableNode,
    get_named_type,
)
from graphql.execution.collect_fields import (
    FragmentDetails,
    collect_fields,
    collect_subfields,
)
from graphql.execution.values import VariableValues, get_argument_values

from gateway.graphql.plan.links import LINKS, LinkSpec
from gateway.graphql.plan.model import (
    CHECKED,
    COLUMN,
    CONST,
    CURSOR,
    EDGES,
    ISSUER,
    LINK,
    MATCH,
    NODE,
    PAGE_INFO,
    SEAL,
    Keyed,
    Link,
    Listing,
    Lookup,
    Node,
    Op,
    Plan,
    Projection,
    Root,
    SealColumns,
    Typename,
    Verify,
)
from gateway.graphql.plan.sql import REGISTRY_COLUMNS
from gateway.graphql.plan.values import converter
from gateway.graphql.reads import fields_read
from resolvers.declarations import LISTS
from resolvers.fetch import columns_for
from resolvers.records import LINK_COLUMNS
from sources.identifiers import CreditCode, IdNumber, LicenseNumber, ParcelCode
from sources.inventory import BY_ENTITY, SOURCES
from sources.seal import SEALED_COLUMNS

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from graphql import DocumentNode, GraphQLSchema, ValueNode
    from graphql.execution.collect_fields import FieldDetails

    from gateway.graphql.schemas import AgencySchema
    from policies.grants import Grants

__all__ = ["compile_plan"]

_NO_VARIABLES = VariableValues({}, {})

_LOOKUPS: dict[str, tuple[str, str, Callable[[str], str]]] = {
    "person": ("Person", "idNumber", lambda raw: IdNumber.parse(raw).value),
    "legalEntity": ("LegalEntity", "creditCode", lambda raw: CreditCode.parse(raw).value),
    "landParcel": ("LandParcel", "parcelCode", lambda raw: ParcelCode.parse(raw).value),
    "license": ("License", "licenseNumber", lambda raw: LicenseNumber.parse(raw).value),
}
#: Each list's entity and filters (argument, how, column), from their one declaration and in its
#: order, which is the order the resolvers check them in (the first error wins).
_LISTINGS: dict[str, tuple[str, tuple[tuple[str, str, str], ...]]] = {
    spec.field: (spec.entity, tuple((f.argument, f.how, f.column) for f in spec.filters))
    for spec in LISTS
}
_SEAL_FIELDS = ("issuer", "algorithm", "keyId", "signature", "valid")
_AGENCY_FIELDS = ("code", "name", "level", "division", "kind", "duties")
_OWN_SEAL_COLUMNS = ("seal_algorithm", "seal_key_id", "seal_signature")
#: The licence fields a seal covers, as `Type.field` (resolvers.records: keyId and signature
#: need them all).
_SEALED_FIELDS = tuple(
    f"License.{spec.name}"
    for spec in BY_ENTITY["License"].fields
    if spec.columns[0] in SEALED_COLUMNS and spec.name != "seal"
)


class _NotPlannable(Exception):
    """Something in the operation that plans do not cover: the resolver path answers it."""


def compile_plan(
    schema: AgencySchema, document: DocumentNode, operation_name: str | None, grants: Grants
) -> Plan | None:
    """The plan of the chosen operation of a document validated against `schema`, for an
    agency with `grants`; None when the operation is not plannable."""
    operation = _operation(document, operation_name)
    if operation is None or operation.operation is not OperationType.QUERY:
        return None
    definitions = [d for d in document.definitions if isinstance(d, FragmentDefinitionNode)]
    if any(d.variable_definitions for d in definitions) or not _literal_directives(document):
        return None
    fragments = {d.name.value: FragmentDetails(d) for d in definitions}
    compiler = _Compiler(schema._schema, fragments, operation, grants)
    try:
        compiler.draft()
        roots, keyed = compiler.finish()
    except _NotPlannable:
        return None
    statements = len(keyed) + sum(isinstance(r, Listing | Verify) for r in roots)
    return Plan(
        schema=schema._schema,
        operation=operation,
        roots=tuple(roots),
        keyed=keyed,
        levels=1 + max((k.level for k in keyed), default=0),
        slots=compiler.slot_count,
        nodes=len(compiler.nodes),
        read=frozenset(fields_read(schema._schema, document, operation_name, None)),
        statements=statements,
        verifies=any(isinstance(r, Verify) for r in roots),
    )


def _operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    """The operation execution would choose; None where it would refuse (it says why)."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        return operations[0] if len(operations) == 1 else None
    named = [o for o in operations if o.name is not None and o.name.value == name]
    return named[0] if named else None


def _literal_directives(document: DocumentNode) -> bool:
    """True when every directive is `@skip` or `@include` with a literal `if`: those are decided
    here, once. A directive on a variable would make the selection differ per request."""
    stack: list[Any] = list(document.definitions)
    while stack:
        node = stack.pop()
        for directive in getattr(node, "directives", None) or ():
            if directive.name.value not in {"skip", "include"}:
                return False
            if any(_has_variable(argument.value) for argument in directive.arguments):
                return False
        for variable in getattr(node, "variable_definitions", None) or ():
            if variable.directives:
                return False
        selection_set = getattr(node, "selection_set", None)
        if selection_set is not None:
            stack.extend(selection_set.selections)
    return True


def _has_variable(value: ValueNode) -> bool:
    if isinstance(value, VariableNode):
        return True
    if isinstance(value, ListValueNode):
        return any(_has_variable(v) for v in value.values)
    if isinstance(value, ObjectValueNode):
        return any(_has_variable(f.value) for f in value.fields)
    return False


@dataclass(frozen=True, slots=True)
class _RootField:
    """A root field as collected: its response key, nodes, schema field and literal arguments."""

    key: str
    nodes: tuple[FieldNode, ...]
    details: list[FieldDetails]
    definition: Any
    arguments: dict[str, Any] | None

    def common(self) -> dict[str, Any]:
        """The `Root` members every root field has."""
        return {"key": self.key, "nodes": self.nodes, "field": self.definition,
                "arguments": self.arguments}  # fmt: skip


@dataclass(eq=False)
class _Columns:
    """The columns one statement reads, gathered from every node it feeds."""

    source: str
    names: list[str] = field(default_factory=list)
    seal: bool = False

    def add(self, names: Iterable[str]) -> None:
        for name in names:
            if name not in self.names:
                self.names.append(name)

    def index(self, name: str) -> int:
        return self.names.index(name)


@dataclass(eq=False)
class _Slot:
    """A keyed statement being drafted."""

    slot: int
    level: int
    by: str
    kind: tuple[str, str] | None
    columns: _Columns
    feeds: list[tuple[_Draft, _DraftLink]] = field(default_factory=list)


@dataclass(eq=False)
class _DraftLink:
    spec: LinkSpec
    slot: int
    level: int
    node: _Draft
    nodes: tuple[FieldNode, ...]


@dataclass(eq=False)
class _Draft:
    """A node whose column indexes are known only once every node of its statement is."""

    id: int
    entity: str
    slot: int
    columns: _Columns
    ops: list[tuple[str, int, Any, Any]] = field(default_factory=list)
    links: list[_DraftLink] = field(default_factory=list)


class _Compiler:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDetails],
        operation: OperationDefinitionNode,
        grants: Grants,
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.operation = operation
        self.grants = grants
        self.slot_count = 0
        self.keyed: dict[tuple[int, str, str, tuple[str, str] | None], _Slot] = {}
        self.nodes: list[_Draft] = []
        self.finished: dict[int, Node] = {}
        self.finished_links: dict[int, Link] = {}
        #: Each root field, made once its nodes are finished.
        self.pending: list[Callable[[], Root]] = []

    # -- the operation's root fields -----------------------------------------------------

    def draft(self) -> None:
        """Draft every root field, its nodes and statements (column indexes come later)."""
        query = self.schema.query_type
        if query is None:
            raise _NotPlannable
        grouped = collect_fields(
            self.schema, self.fragments, _NO_VARIABLES, query, self.operation
        ).grouped_field_set
        for key, details in grouped.items():
            nodes = tuple(d.node for d in details)
            name = nodes[0].name.value
            if name == "__typename":
                typename = Typename(key=key, nodes=nodes, field=None, arguments=None,
                                    value=query.name)  # fmt: skip
                self.pending.append(_ready(typename))
                continue
            definition = query.fields.get(name)
            if definition is None:
                raise _NotPlannable
            field = _RootField(key, nodes, details, definition,
                               _literal_arguments(definition, nodes[0]))  # fmt: skip
            if name in _LOOKUPS:
                self._lookup(field, name)
            elif name in _LISTINGS:
                self._listing(field, name)
            elif name == "verifyPerson":
                self._verify(field)
            else:
                raise _NotPlannable

    def _lookup(self, field: _RootField, name: str) -> None:
        entity, argument, parse = _LOOKUPS[name]
        source = BY_ENTITY[entity]
        by = source.field(source.key).columns[0]
        slot = self._keyed(0, source.name, by, None)
        draft = self._record(entity, field.definition, field.details, slot=slot.slot,
                             columns=slot.columns, level=0)  # fmt: skip

        def made() -> Root:
            return Lookup(**field.common(), argument=argument, parse=parse, slot=slot.slot,
                          node=self.finished[draft.id])  # fmt: skip

        self.pending.append(made)

    def _listing(self, field: _RootField, name: str) -> None:
        entity, filters = _LISTINGS[name]
        source = BY_ENTITY[entity]
        columns = _Columns(source.name)
        columns.add([source.field(source.key).columns[0]])
        slot = self._new_slot()
        connection = _object_type(field.definition)
        ops: list[tuple[str, int, Any, Any]] = []
        drafts: list[_Draft] = []
        for sub_key, sub in self._collect(connection, field.details).items():
            sub_name = sub[0].node.name.value
            if sub_name == "__typename":
                ops.append((sub_key, CONST, connection.name, None))
            elif sub_name == "pageInfo":
                page_info = _object_type(_field(connection, sub_name))
                shape = self._projection(page_info, sub, {"hasNextPage", "endCursor"})
                ops.append((sub_key, PAGE_INFO, shape, None))
            elif sub_name == "edges":
                edge = _object_type(_field(connection, sub_name))
                edge_ops: list[tuple[str, int, Any, Any]] = []
                for edge_key, edge_sub in self._collect(edge, sub).items():
                    edge_name = edge_sub[0].node.name.value
                    if edge_name == "__typename":
                        edge_ops.append((edge_key, CONST, edge.name, None))
                    elif edge_name == "cursor":
                        edge_ops.append((edge_key, CURSOR, None, None))
                    elif edge_name == "node":
                        draft = self._record(entity, _field(edge, "node"), edge_sub, slot=slot,
                                             columns=columns, level=0)  # fmt: skip
                        drafts.append(draft)
                        edge_ops.append((edge_key, NODE, draft, None))
                    else:
                        raise _NotPlannable
                ops.append((sub_key, EDGES, edge_ops, None))
            else:
                raise _NotPlannable

        def made() -> Root:
            finished_ops: list[Op] = []
            for op_key, what, a, b in ops:
                if what == EDGES:  # the edges' draft nodes become their finished nodes
                    a = tuple(  # noqa: PLW2901
                        (k, w, self.finished[x.id] if w == NODE else x, y) for k, w, x, y in a
                    )
                finished_ops.append((op_key, what, a, b))
            return Listing(
                **field.common(), entity=entity, source=source.name, slot=slot,
                columns=tuple(columns.names), seal=columns.seal, key_index=0,
                ops=tuple(finished_ops), below=tuple(self.finished[d.id] for d in drafts),
                cursors=any(w == CURSOR for _, what, a, _ in ops if what == EDGES
                            for _, w, _, _ in a),
                filters=filters,
            )  # fmt: skip

        self.pending.append(made)

    def _verify(self, field: _RootField) -> None:
        verification = _object_type(field.definition)
        ops: list[Op] = []
        for sub_key, sub in self._collect(verification, field.details).items():
            sub_name = sub[0].node.name.value
            if sub_name == "__typename":
                ops.append((sub_key, CONST, verification.name, None))
            elif sub_name == "match":
                ops.append((sub_key, MATCH, None, None))
            elif sub_name == "checked":
                ops.append((sub_key, CHECKED, None, None))
            else:
                raise _NotPlannable
        verify = Verify(**field.common(), slot=self._new_slot(), ops=tuple(ops))
        self.pending.append(_ready(verify))

    # -- records and links ---------------------------------------------------------------

    def _record(
        self,
        entity: str,
        definition: Any,
        details: list[FieldDetails],
        *,
        slot: int,
        columns: _Columns,
        level: int,
    ) -> _Draft:
        """The draft node of the records selected by `details`, its links drafted below it."""
        record_type = _object_type(definition)
        if record_type.name != entity:
            raise _NotPlannable
        source = BY_ENTITY[entity]
        draft = _Draft(len(self.nodes), entity, slot, columns)
        self.nodes.append(draft)
        grouped = self._collect(record_type, details)
        names = {sub[0].node.name.value for sub in grouped.values()}
        extra = [c for name in names for c in LINK_COLUMNS[entity].get(name, ())]
        # The same columns the resolver path reads, so neither path reads what the other would
        # not: selected and granted, the key, and what links and the seal check need.
        columns.add(columns_for(source, names, self.grants, extra))
        inventory = {spec.name: spec for spec in source.fields}
        for key, sub in grouped.items():
            name = sub[0].node.name.value
            nodes = tuple(d.node for d in sub)
            link = LINKS.get((entity, name))
            if name == "__typename":
                draft.ops.append((key, CONST, entity, None))
            elif link is not None:
                made = self._link(draft, link, _field(record_type, name), sub, nodes, level)
                draft.ops.append((key, LINK, made, None))
            elif entity == "License" and name == "seal":
                # Validation keeps these out of other agencies' documents; checked again here,
                # as every granted field is (default deny, whatever let a document through).
                known = set(_SEAL_FIELDS)
                if not self.grants.can("query", "License.seal"):
                    raise _NotPlannable
                if not all(self.grants.can("query", f) for f in _SEALED_FIELDS):
                    known -= {"keyId", "signature"}  # they would let guesses be tested offline
                columns.add([*SEALED_COLUMNS, *_OWN_SEAL_COLUMNS])
                columns.seal = True
                shape = self._projection(_object_type(_field(record_type, name)), sub, known)
                draft.ops.append((key, SEAL, None, shape))
            elif entity == "License" and name == "issuer":
                if not self.grants.can("query", "License.issuerCode"):
                    raise _NotPlannable
                columns.add(["issuer_code"])
                shape = self._projection(_object_type(_field(record_type, name)), sub,
                                         set(_AGENCY_FIELDS))  # fmt: skip
                draft.ops.append((key, ISSUER, "issuer_code", shape))
            elif name in inventory:
                spec = inventory[name]
                # Default deny: a field outside the grants is never copied, whatever validation
                # let through (resolvers.records._copied does the same).
                if not self.grants.can("query", f"{entity}.{name}"):
                    raise _NotPlannable
                draft.ops.append((key, COLUMN, spec.columns[0], converter(spec.kind)))
            else:
                raise _NotPlannable
        return draft

    def _link(  # noqa: PLR0917 (private, called once)
        self,
        parent: _Draft,
        spec: LinkSpec,
        definition: Any,
        details: list[FieldDetails],
        nodes: tuple[FieldNode, ...],
        level: int,
    ) -> _DraftLink:
        parent.columns.add([spec.parent])
        if spec.parent_kind is not None:
            parent.columns.add([spec.parent_kind[0]])
        slot = self._keyed(level + 1, spec.source, spec.by, spec.kind)
        child = self._record(spec.target, definition, details, slot=slot.slot,
                             columns=slot.columns, level=level + 1)  # fmt: skip
        link = _DraftLink(spec, slot.slot, level + 1, child, nodes)
        parent.links.append(link)
        slot.feeds.append((parent, link))
        return link

    def _projection(
        self, object_type: GraphQLObjectType, details: list[FieldDetails], known: set[str]
    ) -> Projection:
        shape: list[tuple[str, str | None, Any]] = []
        for key, sub in self._collect(object_type, details).items():
            name = sub[0].node.name.value
            if name == "__typename":
                shape.append((key, None, object_type.name))
            elif name in known:
                shape.append((key, name, None))
            else:
                raise _NotPlannable
        return tuple(shape)

    def _collect(
        self, object_type: GraphQLObjectType, details: list[FieldDetails]
    ) -> dict[str, list[FieldDetails]]:
        return collect_subfields(
            self.schema, self.fragments, _NO_VARIABLES, self.operation, object_type, details
        ).grouped_field_set

    # -- statements ----------------------------------------------------------------------

    def _new_slot(self) -> int:
        self.slot_count += 1
        return self.slot_count - 1

    def _keyed(self, level: int, source: str, by: str, kind: tuple[str, str] | None) -> _Slot:
        """The statement of this level matching `by` (one per source, column and kind, as the
        resolver path's DataLoaders batch them)."""
        key = (level, source, by, kind)
        slot = self.keyed.get(key)
        if slot is None:
            slot = _Slot(self._new_slot(), level, by, kind, _Columns(source))
            spec = SOURCES[source]
            slot.columns.add([spec.field(spec.key).columns[0], by])
            self.keyed[key] = slot
        return slot

    def finish(self) -> tuple[list[Root], tuple[Keyed, ...]]:
        """Every node (deepest first, now that each statement's columns are known), the
        statements in level order, and the root fields."""
        for draft in sorted(self.nodes, key=_depth):
            self.finished[draft.id] = self._node(draft)
        keyed = tuple(
            Keyed(
                slot=s.slot,
                level=s.level,
                source=s.columns.source,
                by=s.by,
                by_index=s.columns.index(s.by),
                kind=s.kind,
                columns=tuple(s.columns.names),
                seal=s.columns.seal,
                feeds=tuple((parent.id, self.finished_links[id(link)]) for parent, link in s.feeds),
            )
            for s in sorted(self.keyed.values(), key=lambda s: (s.level, s.slot))
        )
        return [make() for make in self.pending], keyed

    def _node(self, draft: _Draft) -> Node:
        columns = draft.columns
        ops: list[Op] = []
        links: list[Link] = []
        source = BY_ENTITY[draft.entity]
        for key, what, a, b in draft.ops:
            if what == COLUMN:
                ops.append((key, COLUMN, columns.index(a), b))
            elif what == ISSUER:
                ops.append((key, ISSUER, columns.index(a), b))
            elif what == SEAL:
                ops.append((key, SEAL, _seal_columns(columns), b))
            elif what == LINK:
                spec = a.spec
                kind = spec.parent_kind
                link = Link(
                    slot=a.slot,
                    level=a.level,
                    parent_key=columns.index(spec.parent),
                    parent_kind=-1 if kind is None else columns.index(kind[0]),
                    kind_value=None if kind is None else kind[1],
                    many=spec.many,
                    node=self.finished[a.node.id],
                    nodes=a.nodes,
                )
                self.finished_links[id(a)] = link
                links.append(link)
                ops.append((key, LINK, link, None))
            else:
                ops.append((key, what, a, b))
        return Node(
            id=draft.id,
            entity=draft.entity,
            slot=draft.slot,
            key=columns.index(source.field(source.key).columns[0]),
            ops=tuple(ops),
            links=tuple(links),
        )


def _depth(draft: _Draft) -> int:
    return 1 + max((_depth(link.node) for link in draft.links), default=0)


def _seal_columns(columns: _Columns) -> SealColumns:
    wanted = (*SEALED_COLUMNS, *_OWN_SEAL_COLUMNS)
    registry = len(columns.names)  # the registry's columns follow the table's
    return SealColumns(
        record={c: columns.index(c) for c in wanted},
        key_id=columns.index("seal_key_id"),
        registry_issuer=registry + REGISTRY_COLUMNS.index("issuer_code"),
        registry_algorithm=registry + REGISTRY_COLUMNS.index("algorithm"),
        registry_key=registry + REGISTRY_COLUMNS.index("public_key"),
    )


def _ready(root: Root) -> Callable[[], Root]:
    return lambda: root


def _field(object_type: GraphQLObjectType, name: str) -> Any:
    """The field `name` of `object_type` in the agency's schema (validation saw to it)."""
    found = object_type.fields.get(name)
    if found is None:
        raise _NotPlannable
    return found


def _object_type(definition: Any) -> GraphQLObjectType:
    named = get_named_type(definition.type)
    if not isinstance(named, GraphQLObjectType):
        raise _NotPlannable
    return named


def _literal_arguments(definition: Any, node: FieldNode) -> dict[str, Any] | None:
    """The field's arguments coerced now, when the document writes them as literals; None
    when a variable is among them (they are coerced per request, as execution does)."""
    if any(_has_variable(argument.value) for argument in node.arguments or ()):
        return None
    try:
        return get_argument_values(definition, node, _NO_VARIABLES)
    except Exception as error:  # validation lets no bad literal through; if one came: resolvers
        raise _NotPlannable from error
