"""Which fields a query selects on an object, through aliases and fragments."""

from __future__ import annotations

from typing import TYPE_CHECKING

from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField

if TYPE_CHECKING:
    from collections.abc import Iterable

    from strawberry.types.nodes import Selection

__all__ = ["selected_names", "selections_at"]


def _flatten(selections: Iterable[Selection]) -> list[SelectedField]:
    fields: list[SelectedField] = []
    for selection in selections:
        if isinstance(selection, SelectedField):
            fields.append(selection)
        elif isinstance(selection, FragmentSpread | InlineFragment):
            fields.extend(_flatten(selection.selections))
    return fields


def selections_at(fields: Iterable[Selection], *path: str) -> list[SelectedField]:
    """The fields selected below `path` (e.g. "edges", "node"), merged over every occurrence."""
    current = _flatten(fields)
    for name in path:
        current = _flatten(s for f in current if f.name == name for s in f.selections)
    return current


def selected_names(fields: Iterable[Selection], *path: str) -> set[str]:
    """The schema names of the fields selected below `path`."""
    return {f.name for f in selections_at(fields, *path)}
