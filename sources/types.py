"""Shapes shared by the four base databases: every source describes itself the same way."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from sqlalchemy import Table

__all__ = ["EntityType", "FieldSpec", "Reveals", "SourceName", "SourceSpec"]

SourceName = Literal["persons", "entities", "land", "licenses"]
EntityType = Literal["Person", "LegalEntity", "LandParcel", "License"]


@dataclass(frozen=True, slots=True)
class Reveals:
    """Another field that a field's value carries: whoever reads the value reads that one too.

    `field` is `Type.field`; `how` says which part of the value it is, in words a policy
    author can check against the standard; `whole` is False when only part of the other field
    can be read off (the year of a date, the category of a kind).
    """

    field: str
    how: str
    whole: bool = True


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One field of an entity type, as the catalogue and the GraphQL schema name it.

    `columns` are the table columns that hold it (one, except composite fields like a seal).
    `reveals` are the fields its value embeds (identifiers carry data: docs/data-model.md).
    """

    name: str
    columns: tuple[str, ...]
    description: str
    kind: Literal["string", "date", "datetime", "integer", "float", "boolean", "json"] = "string"
    reveals: tuple[Reveals, ...] = ()


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """A base database (Art. 11): its name, the entity type it holds, its table and fields."""

    name: SourceName
    title: str
    entity: EntityType
    table: Table
    key: str
    fields: tuple[FieldSpec, ...]

    def field(self, name: str) -> FieldSpec:
        """The field called `name`; raises KeyError listing the known ones."""
        for spec in self.fields:
            if spec.name == name:
                return spec
        known = ", ".join(f.name for f in self.fields)
        raise KeyError(f"{self.entity} has no field {name!r}; its fields are: {known}")
