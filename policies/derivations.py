"""Grants that reveal more than they grant: an agency reads a field whose value carries another
field it is not granted (an ID number's birth date, a licence number's division).

The field inventory declares what each value reveals (`sources.derivations`); the catalogue
acknowledges, with a reason, what it knowingly lets readers learn (`acknowledges:` on a field's
entry, docs/catalog.md). `exposures(policy)` lists every such case, from the grants Casbin
decided (author rules included), for `govgate policy check` to warn about; `revealers` tells
`policy explain` which granted fields reveal a denied one.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from sources.derivations import derivations, revealed_by
from sources.inventory import field_names

if TYPE_CHECKING:
    from collections.abc import Callable

    from policies.catalog import Agency, Catalog, FieldShare
    from policies.grants import Policy
    from sources.derivations import Derivation

__all__ = ["Exposure", "acknowledgement", "exposures", "revealers"]


@dataclass(frozen=True, slots=True)
class Exposure:
    """`agency` reads `derivation.field`, which reveals `derivation.revealed`, not granted to it.

    `through` says how the agency is granted the field (its duties, unconditional sharing, or
    an author rule); `entry` is the catalogue entry to acknowledge it in (None when no entry
    lists the field); `reason` is the catalogue's acknowledgement, if any.
    """

    agency: str
    derivation: Derivation
    through: str
    entry: FieldShare | None
    reason: str | None

    def warning(self, catalog: Catalog) -> str:
        """The warning `govgate policy check` prints: who, which two fields, where, what to do."""
        d = self.derivation
        entry = self.entry
        where = (
            f"{catalog.path}:{entry.line}: datasets.{entry.dataset}.fields.{entry.field}"
            if entry is not None and entry.line
            else catalog.path
        )
        amount = "" if d.whole else "part of "
        fix = (
            f"add `acknowledges: {{{d.revealed}: <why it is accepted>}}` to that entry"
            if entry is not None
            else f"list {d.field} in a catalogue entry with `acknowledges: {{{d.revealed}: "
            "<why it is accepted>}`"
        )
        return (
            f"{where}: warning: {self.agency} reads {d.field} ({self.through}) but is not "
            f"granted {d.revealed}, {amount}which {d.field} reveals: {d.how}. Grant "
            f"{d.revealed} to a duty {self.agency} holds, or acknowledge it: {fix}."
        )


def acknowledgement(catalog: Catalog, field: str, revealed: str) -> tuple[FieldShare, str] | None:
    """The catalogue entry of `field` that acknowledges it reveals `revealed`, and the reason."""
    for share in catalog.shares_of(field):
        for other, reason in share.acknowledges:
            if other == revealed:
                return share, reason
    return None


def exposures(policy: Policy) -> list[Exposure]:
    """Every (agency, granted field, revealed field not granted), acknowledged or not."""
    catalog = policy.catalog
    found = []
    revealing = [ref for ref in field_names() if derivations(ref)]
    for agency in catalog.agencies:
        reads = _reader(policy, agency.code)
        for field in filter(reads, revealing):
            for derivation in derivations(field):
                if reads(derivation.revealed):
                    continue
                entries = _granting(catalog, agency, field)
                through = _through(policy, agency, field, entries)
                acknowledged = acknowledgement(catalog, field, derivation.revealed)
                entry = (
                    acknowledged[0] if acknowledged
                    else entries[0] if entries
                    else next(iter(catalog.shares_of(field)), None)
                )  # fmt: skip
                reason = acknowledged[1] if acknowledged else None
                found.append(Exposure(agency.code, derivation, through, entry, reason))
    return found


def revealers(policy: Policy, agency_code: str, ref: str) -> list[tuple[Derivation, str | None]]:
    """The fields the agency may read whose values reveal `ref`, each with the catalogue's
    acknowledgement reason (None when not acknowledged)."""
    reads = _reader(policy, agency_code)
    out = []
    for derivation in revealed_by(ref):
        if reads(derivation.field):
            acknowledged = acknowledgement(policy.catalog, derivation.field, ref)
            out.append((derivation, acknowledged[1] if acknowledged else None))
    return out


def _reader(policy: Policy, agency_code: str) -> Callable[[str], bool]:
    """May the agency read a field? From its grants when the policy computed them, else by
    asking the enforcer for just the fields asked about (`policy check` and `explain` need a
    few dozen decisions, not every agency's ~130)."""
    grants = policy.grants.get(agency_code)
    if grants is not None:
        return grants.readable.__contains__

    @cache
    def reads(ref: str) -> bool:
        return policy.decide(agency_code, ref, "query")

    return reads


def _granting(catalog: Catalog, agency: Agency, field: str) -> list[FieldShare]:
    """The catalogue entries that share `field` with `agency` for query."""
    everyone = agency.kind in catalog.unconditional_kinds
    return [
        share
        for share in catalog.shares_of(field)
        if "query" in share.methods
        and (
            (share.sharing == "unconditional" and everyone)
            or (share.sharing == "conditional" and set(share.duties) & set(agency.duties))
        )
    ]


def _through(policy: Policy, agency: Agency, field: str, entries: list[FieldShare]) -> str:
    """How `agency` comes to read `field`, in words."""
    if not entries:
        _, rule = policy.enforcer.enforce_ex(agency.code, field, "query", policy.day.isoformat())
        source = list(rule)[5] if rule else "a rule"
        return f"by author rule {str(source).removeprefix('rules:')}"
    parts = []
    for share in entries:
        if share.sharing == "unconditional":
            parts.append(f"dataset {share.dataset}, shared unconditionally")
        else:
            held = sorted(set(share.duties) & set(agency.duties))
            noun = "duty" if len(held) == 1 else "duties"
            parts.append(f"dataset {share.dataset}, through its {noun} {', '.join(held)}")
    return "; ".join(parts)
