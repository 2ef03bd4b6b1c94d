"""GraphQL record types, generated from the field inventory, and the links between sources.

Scalar fields come from `sources.inventory` (one source of truth); each carries
`metadata["ref"] = "Type.field"` so the gateway can drop the ones an agency is not granted.
Link fields carry `metadata["needs"]` (the fields whose values the link reveals: following
Person.licenses tells you License.holderId) and `metadata["target"]` (the type it returns, which
must itself be visible). A links class may also replace an inventory field with a resolver that
keeps its `ref`: `License.seal` is checked against the record on every read (Art. 23, 24).
"""

from __future__ import annotations

import json
import re

# Strawberry resolves resolver annotations at schema build time, from this module's globals:
# these two must exist at run time, not only for type checkers.
from collections.abc import Mapping  # noqa: TC003
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types.field import StrawberryField

from resolvers.context import RequestContext
from resolvers.fetch import columns_for, issuer_key_loader, loader
from resolvers.selection import selected_names
from sources.inventory import BY_ENTITY, SOURCES
from sources.seal import SEALED_COLUMNS, claimed_issuer, seal_holds

if TYPE_CHECKING:
    from sqlalchemy import RowMapping

__all__ = [
    "LINK_COLUMNS",
    "RECORD_TYPES",
    "Agency",
    "LandParcel",
    "LegalEntity",
    "License",
    "Person",
    "Seal",
    "agency_of",
    "checked_seal",
    "link_columns",
    "make_record",
    "snake",
]

Info = strawberry.Info[RequestContext, None]


def snake(name: str) -> str:
    """`idNumber` -> `id_number`."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


#: The License fields the seal covers (sources.seal.SEALED_COLUMNS), as `Type.field`.
_SEALED_FIELDS = tuple(
    f"License.{spec.name}"
    for spec in BY_ENTITY["License"].fields
    if spec.columns[0] in SEALED_COLUMNS and spec.name != "seal"
)


@strawberry.type(
    description=(
        "The issuer's electronic seal over a licence record (Art. 23), checked by the gateway "
        "against the record as it is now in the licences database each time it is read."
    )
)
class Seal:
    issuer: str = strawberry.field(
        description=(
            "Code of the agency whose key made the seal, from the seal registry; for a key the "
            "registry does not know, the code the key id claims (and `valid` is false)."
        )
    )
    algorithm: str
    # The signature and its key let anyone test guesses of every sealed column offline (a
    # holder's ID number, say): only an agency that may read all of them sees these two.
    key_id: str = strawberry.field(metadata={"needs": _SEALED_FIELDS})
    signature: str = strawberry.field(
        description="The issuer's Ed25519 signature, base64. Shown only to agencies that may "
        "read every sealed field: with the issuer's public key it would let others test "
        "guesses of the fields they may not read.",
        metadata={"needs": _SEALED_FIELDS},
    )
    valid: bool = strawberry.field(
        description=(
            "True when the seal is the issuing agency's own signature over the record's current "
            "values; false when the record was changed after issue, or the key is unknown, "
            "another agency's, or of another algorithm (Art. 23, 24)."
        )
    )


@strawberry.type(description="An agency of the sharing catalogue.")
class Agency:
    code: str
    name: str
    level: str
    division: str
    kind: str
    duties: list[str]


_PYTHON_TYPES: dict[str, Any] = {
    "string": str | None,
    "date": str | None,
    "datetime": str | None,
    "integer": float | None,  # GraphQL Int is 32-bit; registered capital can exceed it
    "float": float | None,
    "boolean": bool | None,
    "json": JSON | None,
}

# The columns a link field needs from its own record, beyond the record's key. The seal needs
# every sealed column to be checked, granted or not: they stay in the private `row` and are never
# copied into a field the agency may not read (see `make_record`).
LINK_COLUMNS: dict[str, dict[str, tuple[str, ...]]] = {
    "Person": {},
    "LegalEntity": {"representative": ("legal_representative",)},
    "LandParcel": {
        "rightHolderPerson": ("right_holder_id", "right_holder_kind"),
        "rightHolderEntity": ("right_holder_id", "right_holder_kind"),
    },
    "License": {
        "holderPerson": ("holder_id", "holder_kind"),
        "holderEntity": ("holder_id", "holder_kind"),
        "issuer": ("issuer_code",),
        "seal": SEALED_COLUMNS,
    },
}


def _value(kind: str, value: object) -> object:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")  # stored as UTC
    if isinstance(value, date):
        return value.isoformat()
    if kind == "json" and isinstance(value, str):
        return json.loads(value)
    return value


def _copied(ctx: RequestContext, cls: Any) -> list[tuple[str, str, str]]:
    """(attribute, column, kind) of the fields `make_record` may copy from a row, per request.

    Only fields the agency may read: a row also carries columns fetched for links and for the
    seal check (e.g. `holder_id`), which must not reach a field even by mistake. Fields a
    resolver answers (the seal) are not copied.
    """
    entity = cls.__govgate_entity__
    key = ("record-fields", entity)
    found: list[tuple[str, str, str]] | None = ctx.loaders.get(key)
    if found is None:
        found = [
            (snake(spec.name), spec.columns[0], spec.kind)
            for spec in BY_ENTITY[entity].fields
            if snake(spec.name) not in cls.__govgate_resolved__
            and ctx.grants.can("query", f"{entity}.{spec.name}")
        ]
        ctx.loaders[key] = found
    return found


def make_record(cls: Any, row: RowMapping, ctx: RequestContext) -> Any:
    """An instance of record type `cls` from a row: the fetched and granted fields set, the
    rest null.

    The record is noted in `ctx` as returned (the audit log names it).
    """
    entity = cls.__govgate_entity__
    source = BY_ENTITY[entity]
    ctx.saw(entity, row[source.field(source.key).columns[0]])
    values: dict[str, object] = {"row": row}
    for attribute, column, kind in _copied(ctx, cls):
        if column in row:
            values[attribute] = _value(kind, row[column])
    return cls(**values)


def _record_type(entity: str, links: type, description: str) -> Any:
    """A strawberry type for `entity` with every inventory field, plus the `links` resolvers."""
    annotations: dict[str, Any] = {"row": strawberry.Private["Mapping[str, Any]"]}
    resolved = {k: v for k, v in vars(links).items() if isinstance(v, StrawberryField)}
    namespace: dict[str, Any] = {
        "__module__": __name__,
        "__govgate_entity__": entity,
        "__govgate_resolved__": frozenset(resolved),
    }
    for spec in BY_ENTITY[entity].fields:
        name = snake(spec.name)
        if name in resolved:  # answered by a resolver, which carries the same `ref`
            namespace[name] = resolved[name]
            continue
        annotations[name] = _PYTHON_TYPES[spec.kind]
        namespace[name] = strawberry.field(
            default=None,
            name=spec.name,
            description=spec.description,
            metadata={"ref": f"{entity}.{spec.name}"},
        )
    # Strawberry collects fields declared on the class itself, so the links join the namespace.
    namespace.update({k: v for k, v in resolved.items() if k not in namespace})
    namespace["__annotations__"] = annotations
    return strawberry.type(type(entity, (), namespace), description=description)


def _link(*needs: str, target: str, description: str) -> Any:
    return strawberry.field(description=description, metadata={"needs": needs, "target": target})


async def _rows(
    info: Info, source_name: str, by: str, key: object, *, kind: tuple[str, str] | None = None
) -> list[RowMapping]:
    """Rows of `source_name` linked to `key`, with the columns the selection below needs."""
    if key is None:
        return []
    ctx = info.context
    return await loader(ctx, source_name, by, link_columns(info, source_name), kind=kind).load(
        str(key)
    )


def link_columns(info: Info, source_name: str) -> list[str]:
    """The columns the selection below this field needs, worked out once per request and field.

    Every record of a page resolves the same link with the same selection; building
    strawberry's `selected_fields` for each of them was most of a page's cost (bench/).
    """
    ctx = info.context
    key = ("columns", source_name, tuple(id(node) for node in info._raw_info.field_nodes))
    found = ctx.loaders.get(key)
    if found is None:
        source = SOURCES[source_name]
        names = selected_names(info.selected_fields, info.field_name)
        extra = [c for name in names for c in LINK_COLUMNS[source.entity].get(name, ())]
        found = columns_for(source, names, ctx.grants, extra)
        ctx.loaders[key] = found
    return found


async def _many(info: Info, cls: Any, source_name: str, by: str, key: object, kind: str) -> Any:
    column = "holder_kind" if source_name == "licenses" else "right_holder_kind"
    rows = await _rows(info, source_name, by, key, kind=(column, kind) if kind else None)
    return [make_record(cls, row, info.context) for row in rows]


async def _one(info: Info, cls: Any, source_name: str, key: object) -> Any:
    source = SOURCES[source_name]
    rows = await _rows(info, source_name, source.field(source.key).columns[0], key)
    return make_record(cls, rows[0], info.context) if rows else None


def agency_of(ctx: RequestContext, code: str | None) -> Agency | None:
    """The catalogue agency with `code`, as a GraphQL object (None if unknown)."""
    for agency in ctx.catalog.agencies:
        if agency.code == code:
            return Agency(
                code=agency.code,
                name=agency.name,
                level=agency.level,
                division=agency.division,
                kind=agency.kind,
                duties=list(agency.duties),
            )
    return None


class _PersonLinks:
    row: Mapping[str, Any]

    @_link("License.holderId", target="License", description="Licences this person holds.")
    async def licenses(
        self, info: Info
    ) -> list[License] | None:  # null when its source is down (Art. 20)
        return await _many(info, License, "licenses", "holder_id", self.row["id_number"], "person")

    @_link("LandParcel.rightHolderId", target="LandParcel", description="Land rights held.")
    async def land_rights(
        self, info: Info
    ) -> list[LandParcel] | None:  # null when its source is down (Art. 20)
        return await _many(
            info, LandParcel, "land", "right_holder_id", self.row["id_number"], "person"
        )

    @_link(
        "LegalEntity.legalRepresentative",
        target="LegalEntity",
        description="Legal entities this person represents.",
    )
    async def represented_entities(
        self, info: Info
    ) -> list[LegalEntity] | None:  # null when its source is down (Art. 20)
        return await _many(
            info, LegalEntity, "entities", "legal_representative", self.row["id_number"], ""
        )


class _EntityLinks:
    row: Mapping[str, Any]

    @_link(
        "LegalEntity.legalRepresentative", target="Person", description="The legal representative."
    )
    async def representative(self, info: Info) -> Person | None:
        return await _one(info, Person, "persons", self.row.get("legal_representative"))

    @_link("License.holderId", target="License", description="Licences this entity holds.")
    async def licenses(
        self, info: Info
    ) -> list[License] | None:  # null when its source is down (Art. 20)
        return await _many(
            info, License, "licenses", "holder_id", self.row["credit_code"], "entity"
        )

    @_link("LandParcel.rightHolderId", target="LandParcel", description="Land rights held.")
    async def land_rights(
        self, info: Info
    ) -> list[LandParcel] | None:  # null when its source is down (Art. 20)
        return await _many(
            info, LandParcel, "land", "right_holder_id", self.row["credit_code"], "entity"
        )


def _holder_key(row: Mapping[str, Any], prefix: str, kind: str) -> object:
    return row.get(f"{prefix}_id") if row.get(f"{prefix}_kind") == kind else None


class _ParcelLinks:
    row: Mapping[str, Any]

    @_link("LandParcel.rightHolderId", target="Person", description="The right holder, a person.")
    async def right_holder_person(self, info: Info) -> Person | None:
        key = _holder_key(self.row, "right_holder", "person")
        return await _one(info, Person, "persons", key)

    @_link(
        "LandParcel.rightHolderId", target="LegalEntity", description="The right holder, an entity."
    )
    async def right_holder_entity(self, info: Info) -> LegalEntity | None:
        key = _holder_key(self.row, "right_holder", "entity")
        return await _one(info, LegalEntity, "entities", key)


class _LicenseLinks:
    row: Mapping[str, Any]

    @_link("License.holderId", target="Person", description="The holder, when a person.")
    async def holder_person(self, info: Info) -> Person | None:
        key = _holder_key(self.row, "holder", "person")
        return await _one(info, Person, "persons", key)

    @_link("License.holderId", target="LegalEntity", description="The holder, when an entity.")
    async def holder_entity(self, info: Info) -> LegalEntity | None:
        key = _holder_key(self.row, "holder", "entity")
        return await _one(info, LegalEntity, "entities", key)

    @strawberry.field(
        description="The issuing agency.", metadata={"needs": ("License.issuerCode",)}
    )
    def issuer(self, info: Info) -> Agency | None:
        return agency_of(info.context, self.row.get("issuer_code"))

    @strawberry.field(
        description=BY_ENTITY["License"].field("seal").description,
        metadata={"ref": "License.seal"},
    )
    async def seal(self, info: Info) -> Seal | None:
        return await checked_seal(info.context, self.row)


async def checked_seal(ctx: RequestContext, row: Mapping[str, Any]) -> Seal | None:
    """The licence's seal, checked against `row`, the record as the database holds it now.

    The issuer's key comes from the seal registry through the request's DataLoader (one query
    for a whole page). A seal that does not hold is flagged for the audit log, once per licence
    and request (Art. 23, 24).
    """
    key_id = row.get("seal_key_id")
    if key_id is None:  # not selected (a row fetched for another field)
        return None
    published = await issuer_key_loader(ctx).load(key_id)
    valid = published is not None and seal_holds(
        row,
        issuer_code=published["issuer_code"],
        algorithm=published["algorithm"],
        public_key_b64=published["public_key"],
    )
    if not valid:
        flag = f"seal-invalid:License:{row['license_number']}"
        if flag not in ctx.flags:
            ctx.flags.append(flag)
    return Seal(
        issuer=published["issuer_code"] if published is not None else claimed_issuer(key_id),
        algorithm=row["seal_algorithm"],
        key_id=key_id,
        signature=row["seal_signature"],
        valid=valid,
    )


if TYPE_CHECKING:
    # Type checkers see plain classes; at run time these are the generated strawberry types.
    class Person: ...

    class LegalEntity: ...

    class LandParcel: ...

    class License: ...

else:
    Person = _record_type("Person", _PersonLinks, "A natural person (base data, Art. 11).")
    LegalEntity = _record_type("LegalEntity", _EntityLinks, "A legal person or market entity.")
    LandParcel = _record_type(
        "LandParcel", _ParcelLinks, "A land parcel with its real-estate right (Art. 11)."
    )
    License = _record_type("License", _LicenseLinks, "A licence, with its issuer's seal (Art. 23).")

RECORD_TYPES: dict[str, Any] = {
    "Person": Person,
    "LegalEntity": LegalEntity,
    "LandParcel": LandParcel,
    "License": License,
}
