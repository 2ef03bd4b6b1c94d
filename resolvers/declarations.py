"""The root list fields, their filters and the verification claims, each declared once.

From these declarations come the list fields' GraphQL arguments and the metadata the gateway
trims them by (resolvers.root), the resolvers' WHERE clauses, and the compiled plans' filters and
claims (gateway.graphql.plan): nothing else spells a filter out. A filter reveals the field it
compares, so an agency sees it only where it may read that field (`ref`; a claim, where it may
verify it).

Every argument of every field is declared: in `filters` or `verify_filters` with the field it
reveals, or in `free` when it reveals none (paging, an identifier the field needs anyway, data
sent to be checked). The gateway refuses to build a schema with an argument declared nowhere
(gateway.graphql.schemas): an argument forgotten in the declaration is never shown by default.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from strawberry.utils.str_converters import to_camel_case

from sources.inventory import BY_ENTITY

__all__ = [
    "LISTS",
    "PERSON_CLAIMS",
    "Claim",
    "Filter",
    "ListField",
    "declared",
]

#: How a filter compares: a name prefix, a division code, equality, a bounding box.
How = Literal["like", "division", "eq", "bbox"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Filter:
    """One filter argument of a list field."""

    #: The Python argument name (`division_code`); GraphQL's is its camelCase (`divisionCode`).
    name: str
    #: The field whose values it reveals (`Person.divisionCode`): shown only where readable.
    ref: str
    how: How
    #: The column it compares (none for a bounding box, which compares four).
    column: str = ""

    @property
    def argument(self) -> str:
        """The GraphQL argument name."""
        return to_camel_case(self.name)


@dataclass(frozen=True, slots=True, kw_only=True)
class ListField:
    """A root list field: a page of `entity` records in key order, with its filters."""

    #: The Python field name (`legal_entities`); GraphQL's is its camelCase.
    name: str
    entity: str
    description: str
    #: In the order they are checked: the first invalid one is the error reported.
    filters: tuple[Filter, ...]

    @property
    def field(self) -> str:
        """The GraphQL field name."""
        return to_camel_case(self.name)

    @property
    def key_ref(self) -> str:
        """The record key's `Type.field`: paging by key reveals it."""
        return f"{self.entity}.{BY_ENTITY[self.entity].key}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Claim:
    """One claim a verification may be given: the argument, and the column it is checked
    against (the field is `Type.` + the argument's camelCase)."""

    name: str
    column: str

    @property
    def argument(self) -> str:
        """The GraphQL argument name."""
        return to_camel_case(self.name)


def _division(entity: str) -> Filter:
    return Filter(name="division_code", ref=f"{entity}.divisionCode", how="division",
                  column="division_code")  # fmt: skip


def _eq(entity: str, name: str) -> Filter:
    return Filter(name=name, ref=f"{entity}.{to_camel_case(name)}", how="eq", column=name)


def _name(entity: str) -> Filter:
    return Filter(name="name", ref=f"{entity}.name", how="like", column="name")


LISTS: tuple[ListField, ...] = (
    ListField(name="persons", entity="Person",
              description="Persons, a page at a time, ordered by ID number.",
              filters=(_name("Person"), _division("Person"), _eq("Person", "status"))),
    ListField(name="legal_entities", entity="LegalEntity",
              description="Legal entities, a page at a time, ordered by credit code.",
              filters=(_name("LegalEntity"), _division("LegalEntity"),
                       _eq("LegalEntity", "status"), _eq("LegalEntity", "kind"))),
    ListField(name="land_parcels", entity="LandParcel",
              description="Land parcels, a page at a time, ordered by parcel code.",
              # A bounding-box search reveals where parcels are: it needs the geometry grant.
              filters=(_division("LandParcel"), _eq("LandParcel", "land_use"),
                       Filter(name="bbox", ref="LandParcel.geometry", how="bbox"))),
    ListField(name="licenses", entity="License",
              description="Licences, a page at a time, ordered by licence number.",
              filters=(_eq("License", "kind"), _eq("License", "status"),
                       _division("License"))),
)  # fmt: skip

#: What `verifyPerson` may be given besides the ID number, in the order it checks them.
PERSON_CLAIMS: tuple[Claim, ...] = (
    Claim(name="name", column="name"),
    Claim(name="birth_date", column="birth_date"),
    Claim(name="phone", column="phone"),
    Claim(name="status", column="status"),
    Claim(name="marital_status", column="marital_status"),
)


def declared(
    *,
    free: tuple[str, ...] = (),
    filters: dict[str, str] | None = None,
    verify_filters: dict[str, str] | None = None,
    **more: Any,
) -> dict[str, Any]:
    """A field's metadata declaring its arguments: `free` ones reveal no field; `filters` map
    an argument to the field it reveals (shown where readable), `verify_filters` to the field
    it claims (shown where verifiable). `more` is the rest of the metadata (needs, target)."""
    return {"free": free, "filters": dict(filters or {}),
            "verify_filters": dict(verify_filters or {}), **more}  # fmt: skip
