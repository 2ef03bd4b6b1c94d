"""The field inventory: every source, entity type and field the catalogue may refer to."""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING

from sources.entities import ENTITIES
from sources.land import LAND
from sources.licenses import LICENSES
from sources.persons import PERSONS

if TYPE_CHECKING:
    from collections.abc import Mapping

    from sources.types import SourceSpec

__all__ = ["BY_ENTITY", "SOURCES", "field_names"]

SOURCES: Mapping[str, SourceSpec] = MappingProxyType(
    {spec.name: spec for spec in (PERSONS, ENTITIES, LAND, LICENSES)}
)
BY_ENTITY: Mapping[str, SourceSpec] = MappingProxyType({s.entity: s for s in SOURCES.values()})


def field_names() -> list[str]:
    """Every field as `Type.field`, in inventory order."""
    return [f"{s.entity}.{f.name}" for s in SOURCES.values() for f in s.fields]
