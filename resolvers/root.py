"""The root query: look-ups by identifier, paginated lists, the caller itself, verification.

Look-ups validate the identifier first (INVALID_IDENTIFIER, never a silent null) and then go
through the request's DataLoaders, so aliased look-ups of one type cost one query. Lists use
keyset pagination on the record's key: a cursor is the last key seen.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

import strawberry
from strawberry.utils.str_converters import to_camel_case

from resolvers.arguments import (
    LIKE_ESCAPE,
    after_key,
    check_box,
    check_page_size,
    claims_given,
    cursor,
    division,
    name_pattern,
    plain_text,
)
from resolvers.declarations import LISTS, PERSON_CLAIMS, Filter, ListField, declared
from resolvers.errors import InvalidArgumentError, RateLimitedError
from resolvers.evidence import DatasetFreshness, Voucher, dataset_freshness, find_voucher
from resolvers.fetch import columns_for, fetch, loader, scoped_select
from resolvers.records import (
    LINK_COLUMNS,
    RECORD_TYPES,
    Agency,
    Info,
    LandParcel,
    LegalEntity,
    License,
    Person,
    agency_of,
    make_record,
)
from resolvers.selection import selected_names
from sources.identifiers import CreditCode, IdNumber, LicenseNumber, ParcelCode
from sources.inventory import SOURCES

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement

__all__ = ["PageInfo", "Query"]

_SOURCE_OF: dict[str, str] = {source.entity: name for name, source in SOURCES.items()}
_DEFAULT_PAGE = 20
_LISTS = {spec.name: spec for spec in LISTS}


@strawberry.type(description="Where a page ends and whether another follows.")
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


def _connection(entity: str, node: Any) -> tuple[Any, Any]:
    edge = strawberry.type(
        type(f"{entity}Edge", (), {"__annotations__": {"cursor": str, "node": node}}),
        description=f"One {entity} of a page.",
    )
    connection = strawberry.type(
        type(
            f"{entity}Connection",
            (),
            {"__annotations__": {"edges": list[edge], "page_info": PageInfo}},  # type: ignore[valid-type]
        ),
        description=f"A page of {entity} records.",
    )
    return edge, connection


PersonEdge, PersonConnection = _connection("Person", Person)
LegalEntityEdge, LegalEntityConnection = _connection("LegalEntity", LegalEntity)
LandParcelEdge, LandParcelConnection = _connection("LandParcel", LandParcel)
LicenseEdge, LicenseConnection = _connection("License", License)
_CONNECTIONS = {
    "Person": (PersonEdge, PersonConnection),
    "LegalEntity": (LegalEntityEdge, LegalEntityConnection),
    "LandParcel": (LandParcelEdge, LandParcelConnection),
    "License": (LicenseEdge, LicenseConnection),
}


async def _lookup(info: Info, entity: str, key: str) -> Any:
    source_name = _SOURCE_OF[entity]
    source = SOURCES[source_name]
    names = selected_names(info.selected_fields, info.field_name)
    extra = [c for name in names for c in LINK_COLUMNS[entity].get(name, ())]
    columns = columns_for(source, names, info.context.grants, extra)
    key_column = source.field(source.key).columns[0]
    rows = await loader(info.context, source_name, key_column, columns).load(key)
    return make_record(RECORD_TYPES[entity], rows[0], info.context) if rows else None


async def _page(
    info: Info, entity: str, first: int, after: str | None, where: list[ColumnElement[bool]]
) -> Any:
    ctx = info.context
    check_page_size(first, ctx.max_page_size)
    source_name = _SOURCE_OF[entity]
    source = SOURCES[source_name]
    names = selected_names(info.selected_fields, info.field_name, "edges", "node")
    extra = [c for name in names for c in LINK_COLUMNS[entity].get(name, ())]
    columns = columns_for(source, names, ctx.grants, extra)
    key = source.table.c[source.field(source.key).columns[0]]
    statement = scoped_select(ctx, source_name, columns).where(*where)
    start = after_key(after)
    if start is not None:
        statement = statement.where(key > start)
    rows = await fetch(ctx, source_name, statement.order_by(key).limit(first + 1))
    edge_type, connection_type = _CONNECTIONS[entity]
    cls = RECORD_TYPES[entity]
    more = len(rows) > first  # the row past the page only says that another page follows
    edges = [
        edge_type(cursor=cursor(row[key.name]), node=make_record(cls, row, ctx))
        for row in rows[:first]
    ]
    page = PageInfo(has_next_page=more, end_cursor=edges[-1].cursor if edges else None)
    return connection_type(edges=edges, page_info=page)


def _equals(entity: str, column: str, value: object) -> list[ColumnElement[bool]]:
    if value is None:
        return []
    return [SOURCES[_SOURCE_OF[entity]].table.c[column] == value]


def _name_prefix(entity: str, value: str | None) -> list[ColumnElement[bool]]:
    if value is None:
        return []
    column = SOURCES[_SOURCE_OF[entity]].table.c["name"]
    return [column.like(name_pattern(entity, value), escape=LIKE_ESCAPE)]


@strawberry.input(description="A WGS 84 rectangle: parcels whose outline reaches into it.")
class BoundingBox:
    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float


def _within(box: BoundingBox | None) -> list[ColumnElement[bool]]:
    if box is None:
        return []
    check_box(box.min_lon, box.min_lat, box.max_lon, box.max_lat)
    c = SOURCES["land"].table.c
    # Rectangles intersect when each starts before the other ends, on both axes.
    return [c.min_lon <= box.max_lon, c.max_lon >= box.min_lon,
            c.min_lat <= box.max_lat, c.max_lat >= box.min_lat]  # fmt: skip


@strawberry.type(description="Which records of a type the caller sees (Art. 21).")
class TypeScope:
    type: str
    scope: str
    division: str | None


@strawberry.type(description="A duty the agency holds (Art. 4): name it in Govgate-Duty.")
class HeldDuty:
    id: str
    name: str
    description: str


@strawberry.type(description="The calling agency and what the sharing catalogue grants it.")
class Me:
    agency: Agency
    readable: list[str]
    verifiable: list[str]
    scopes: list[TypeScope]
    administrator: bool
    policy_version: str
    duties: list[HeldDuty] = strawberry.field(
        description="The duties the agency holds; a request may name one in Govgate-Duty."
    )
    duty: str | None = strawberry.field(
        description="The duty this request is answered under (Art. 18, 21); null: all of the "
        "agency's duties."
    )
    duty_required: bool = strawberry.field(
        description="Whether every request must name its duty (the catalogue's require_duty)."
    )
    officer: str | None = strawberry.field(
        description="The acting officer the token names (its act claim, Art. 29), if any."
    )


@strawberry.type(description="The answer to a verification: does the claim match the record?")
class Verification:
    match: bool
    checked: list[str]


def _lookup_metadata(entity: str, key: str, argument: str) -> dict[str, Any]:
    # The identifier reveals only the key field, which the look-up needs anyway.
    return declared(free=(argument,), needs=(f"{entity}.{key}",), target=entity)


def _where(entity: str, spec: Filter, value: Any) -> list[ColumnElement[bool]]:
    """The WHERE terms of one declared filter (none when it was not given)."""
    if spec.how == "like":
        return _name_prefix(entity, value)
    if spec.how == "division":
        return _equals(entity, spec.column, division(value))
    if spec.how == "bbox":
        return _within(value)
    return _equals(entity, spec.column, value)


_ARGUMENT_TYPES: dict[str, Any] = {"like": str, "division": str, "eq": str, "bbox": BoundingBox}


def _list_field(spec: ListField) -> Any:
    """The root field of `spec`: its arguments, metadata and WHERE clause from the declaration
    (resolvers.declarations), so a filter is written down once."""

    async def resolve(self: Any, info: Info, **arguments: Any) -> Any:
        # Strawberry passes the arguments the request gave, and those with a default in the
        # schema; Python fills in no defaults for **arguments: absent means not given.
        where = [term for f in spec.filters
                 for term in _where(spec.entity, f, arguments.get(f.name))]  # fmt: skip
        first = arguments.get("first", _DEFAULT_PAGE)
        return await _page(info, spec.entity, first, arguments.get("after"), where)

    keyword = inspect.Parameter.POSITIONAL_OR_KEYWORD
    parameters = [
        inspect.Parameter("self", keyword),
        inspect.Parameter("info", keyword, annotation=Info),
        inspect.Parameter("first", keyword, annotation=int, default=_DEFAULT_PAGE),
        inspect.Parameter("after", keyword, annotation=str | None, default=None),
        *(inspect.Parameter(f.name, keyword, annotation=_ARGUMENT_TYPES[f.how] | None,
                            default=None) for f in spec.filters),
    ]  # fmt: skip
    # Null when its source is down: the connection type or nothing.
    returns = _CONNECTIONS[spec.entity][1] | None
    resolve.__signature__ = inspect.Signature(parameters, return_annotation=returns)  # type: ignore[attr-defined]
    resolve.__name__ = spec.name
    metadata = declared(
        free=("first", "after"), filters={f.name: f.ref for f in spec.filters},
        needs=(spec.key_ref,), target=spec.entity,
    )  # fmt: skip
    return strawberry.field(resolver=resolve, description=spec.description, metadata=metadata)


@strawberry.type
class Query:
    """Every root field; the gateway drops the ones an agency's grants do not cover."""

    @strawberry.field(
        description="A natural person by resident ID number.",
        metadata=_lookup_metadata("Person", "idNumber", "id_number"),
    )
    async def person(self, info: Info, id_number: str) -> Person | None:
        return await _lookup(info, "Person", IdNumber.parse(id_number).value)

    @strawberry.field(
        description="A legal entity by unified social credit code.",
        metadata=_lookup_metadata("LegalEntity", "creditCode", "credit_code"),
    )
    async def legal_entity(self, info: Info, credit_code: str) -> LegalEntity | None:
        return await _lookup(info, "LegalEntity", CreditCode.parse(credit_code).value)

    @strawberry.field(
        description="A land parcel by cadastral parcel code.",
        metadata=_lookup_metadata("LandParcel", "parcelCode", "parcel_code"),
    )
    async def land_parcel(self, info: Info, parcel_code: str) -> LandParcel | None:
        return await _lookup(info, "LandParcel", ParcelCode.parse(parcel_code).value)

    @strawberry.field(
        description="A licence by its electronic licence number.",
        metadata=_lookup_metadata("License", "licenseNumber", "license_number"),
    )
    async def license(self, info: Info, license_number: str) -> License | None:
        return await _lookup(info, "License", LicenseNumber.parse(license_number).value)

    persons = _list_field(_LISTS["persons"])
    legal_entities = _list_field(_LISTS["legal_entities"])
    land_parcels = _list_field(_LISTS["land_parcels"])
    licenses = _list_field(_LISTS["licenses"])

    @strawberry.field(
        description="A voucher this agency received (Art. 23): who got what, when, signed. "
        "Another agency's voucher id is not found.",
        metadata=declared(free=("id",)),  # its own vouchers only: the id reveals nothing
    )
    async def voucher(self, info: Info, id: str) -> Voucher | None:
        return await find_voucher(info, id)

    @strawberry.field(
        description="How fresh each dataset this agency may see is, against the frequency its "
        "catalogue entry sets (Art. 17)."
    )
    async def freshness(self, info: Info) -> list[DatasetFreshness] | None:
        return await dataset_freshness(info)

    @strawberry.field(description="The calling agency, its duties, region and grants.")
    def me(self, info: Info) -> Me:
        ctx = info.context
        grants = ctx.grants
        agency = agency_of(ctx, grants.agency.code)
        if agency is None:  # the gateway only admits catalogue agencies
            raise InvalidArgumentError("The calling agency is not in the catalogue.")
        return Me(
            agency=agency,
            readable=sorted(grants.readable),
            verifiable=sorted(grants.verifiable),
            # Only the types in the agency's schema: the others it should not even hear of.
            scopes=[
                TypeScope(type=entity, scope=scope.kind, division=scope.division)
                for entity, scope in grants.scopes.items()
                if grants.fields(entity, "query") or grants.fields(entity, "verify")
            ],
            administrator=grants.administrator,
            policy_version=ctx.policy_version,
            duties=[
                HeldDuty(id=d.id, name=d.name, description=d.description)
                for d in ctx.catalog.duties
                if d.id in grants.agency.duties
            ],
            duty=grants.duty,
            duty_required=ctx.catalog.duty_required(grants.agency.code),
            officer=ctx.officer,
        )

    @strawberry.field(
        description=(
            "Verify a claim about a person (Art. 24): true when every given value matches the "
            "record. Reveals nothing else: an unknown ID number is simply no match."
        ),
        metadata=declared(
            free=("id_number",),  # needed to verify anything: `verify` below
            verify_filters={c.name: f"Person.{c.argument}" for c in PERSON_CLAIMS},
            verify=("Person.idNumber",),
        ),
    )
    async def verify_person(
        self,
        info: Info,
        id_number: str,
        name: str | None = None,
        birth_date: str | None = None,
        phone: str | None = None,
        status: str | None = None,
        marital_status: str | None = None,
    ) -> Verification:
        key = IdNumber.parse(id_number).value
        arguments = {"name": name, "birth_date": birth_date, "phone": phone, "status": status,
                     "marital_status": marital_status}  # fmt: skip
        given = claims_given({c.column: arguments[c.name] for c in PERSON_CLAIMS})
        ctx = info.context
        ctx.flags.append(f"verify:Person:{key}")  # the audit log names what was checked
        if ctx.verification_limits is not None:  # Art. 34(4): no guessing by verification
            refusal = await ctx.verification_limits.admit_verification(
                ctx.grants.agency.code, f"Person:{key}", given
            )
            if refusal is not None:
                ctx.flags.extend(refusal.flags)
                raise RateLimitedError(
                    refusal.message, code=refusal.code, retry_after=refusal.retry_after
                )
        table = SOURCES["persons"].table
        statement = scoped_select(ctx, "persons", ["id_number", *given]).where(
            table.c.id_number == key
        )
        rows = await fetch(ctx, "persons", statement)
        match = bool(rows) and all(
            plain_text(rows[0][column]) == value for column, value in given.items()
        )
        # The names the agency sent (`birthDate`), not the database's columns (`birth_date`).
        return Verification(match=match, checked=sorted(to_camel_case(c) for c in given))
