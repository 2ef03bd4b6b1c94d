"""Which fields a field's value reveals, followed through: the inventory's `reveals`, closed.

An identifier carries data (an ID number its holder's birth date and gender), and a reference
is another record's identifier (a licence's `holderId` is a person's ID number), so reading
`License.holderId` reveals `Person.birthDate` through `Person.idNumber`. A chain is followed
only through whole values: part of a field (a year) does not carry what the whole one does.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from sources.inventory import SOURCES

if TYPE_CHECKING:
    from sources.types import Reveals

__all__ = ["Derivation", "derivations", "revealed_by"]


@dataclass(frozen=True, slots=True)
class Derivation:
    """Reading `field` reveals `revealed` (all of it, or part when `whole` is False).

    `via` are the fields in between (none for a direct one); `how` says it in words.
    """

    field: str
    revealed: str
    how: str
    whole: bool
    via: tuple[str, ...] = ()


@cache
def derivations(ref: str) -> tuple[Derivation, ...]:
    """Everything reading `ref` (`Type.field`) reveals, nearest first; () for unknown refs."""
    found: dict[str, Derivation] = {}
    frontier = [Derivation(ref, ref, "", whole=True)]
    while frontier:
        step = frontier.pop(0)
        for reveals in _declared().get(step.revealed, ()):
            if reveals.field == ref or reveals.field in found:
                continue
            via: tuple[str, ...] = ()
            how = reveals.how
            if step.revealed != ref:
                how = f"{step.how}, and in {step.revealed}: {reveals.how}"
                via = (*step.via, step.revealed)
            derivation = Derivation(ref, reveals.field, how, reveals.whole, via)
            found[reveals.field] = derivation
            if reveals.whole:  # part of a value does not carry what the whole one does
                frontier.append(derivation)
    return tuple(found.values())


def revealed_by(ref: str) -> tuple[Derivation, ...]:
    """Every derivation that reveals `ref`: the fields whose values carry it."""
    return tuple(d for field in _declared() for d in derivations(field) if d.revealed == ref)


@cache
def _declared() -> dict[str, tuple[Reveals, ...]]:
    return {
        f"{source.entity}.{spec.name}": spec.reveals
        for source in SOURCES.values()
        for spec in source.fields
        if spec.reveals
    }
