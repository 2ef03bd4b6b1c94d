"""Shapes shared by the four base databases: every source describes itself the same way."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from sqlalchemy import Table

__all__ = ["EntityType", "FieldSpec", "SourceName", "SourceSpec"]

SourceName = Literal["persons", "entities", "land", "licenses"]
EntityType = Literal["Person", "LegalEntity", "LandParcel", "License"]


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One field of an entity type, as the catalogue and the GraphQL schema name it.

    `columns` are the table columns that hold it (one, except composite fields like a seal).
    """

    name: str
    columns: tuple[str, ...]
    description: str
    kind: Literal["string", "date", "datetime", "integer", "float", "boolean", "json"] = "string"


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
