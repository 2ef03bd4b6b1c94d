"""What a catalogue change does (Art. 9): grants added and removed, per agency and duty.

`diff_policies(old, new)` compares two policies decided on the same day by their *grants*, as
the enforcer decided them (author rules included), not by their text: a reworded catalogue that
grants the same changes nothing, and a new author deny shows as the grant it removes. Beside the
grants it lists what changed in the catalogue itself: datasets and fields added or removed,
update frequencies, who must name a duty, the administrator.

Grant changes are listed per agency without a duty (what the agency may use at all) and per
agency and duty (its duty views, policies.duties), the latter only where they say something
the former does not: a field one duty loses while another of the agency's duties keeps it.

A *reduction* is anything that removes shared information from someone: a grant removed, a row
scope narrowed, a duty taken from an agency. Art. 9 requires the government's approval for
those; additions take effect at once (Art. 19).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from policies.grants import METHODS, RowScope

if TYPE_CHECKING:
    from policies.catalog import Catalog
    from policies.grants import Grants, Policy

__all__ = [
    "CatalogChange",
    "DutyChange",
    "GrantChange",
    "PolicyDiff",
    "ScopeChange",
    "diff_policies",
]

_SCOPE_RANK = {"none": 0, "division": 1, "city": 2}


def _under(agency: str, duty: str | None) -> str:
    return agency if duty is None else f"{agency} under its duty {duty}"


@dataclass(frozen=True, slots=True)
class GrantChange:
    """A field an agency (under one duty, or None: at all) may newly use, or no longer."""

    agency: str
    duty: str | None
    method: str
    field: str
    added: bool

    @property
    def reduction(self) -> bool:
        """A removed grant needs approval (Art. 9)."""
        return not self.added

    def describe(self) -> str:
        """The change in words."""
        verb = "may now" if self.added else "may no longer"
        return f"{_under(self.agency, self.duty)} {verb} {self.method} {self.field}"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"kind": "grant", "agency": self.agency, "duty": self.duty,
                "method": self.method, "field": self.field,
                "change": "added" if self.added else "removed"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class ScopeChange:
    """Which records of a type an agency (under one duty, or at all) sees, before and after."""

    agency: str
    duty: str | None
    entity: str
    old: RowScope
    new: RowScope

    @property
    def reduction(self) -> bool:
        """Narrower, or another division: some records it saw, it no longer sees."""
        if _SCOPE_RANK[self.new.kind] != _SCOPE_RANK[self.old.kind]:
            return _SCOPE_RANK[self.new.kind] < _SCOPE_RANK[self.old.kind]
        return self.new.division != self.old.division

    def describe(self) -> str:
        """The change in words."""
        return (
            f"{_under(self.agency, self.duty)} sees {self.entity} records of "
            f"{_scope(self.old)}, then {_scope(self.new)}"
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"kind": "scope", "agency": self.agency, "duty": self.duty, "type": self.entity,
                "from": _scope(self.old), "to": _scope(self.new),
                "change": "removed" if self.reduction else "added"}  # fmt: skip


def _scope(scope: RowScope) -> str:
    if scope.kind == "division":
        return f"division {scope.division}"
    return "the whole city" if scope.kind == "city" else "none"


@dataclass(frozen=True, slots=True)
class DutyChange:
    """An agency takes on a duty, or gives one up (with everything only it granted)."""

    agency: str
    duty: str
    added: bool

    @property
    def reduction(self) -> bool:
        """A duty taken away ends its duty view: requests naming it are refused."""
        return not self.added

    def describe(self) -> str:
        """The change in words."""
        verb = "now holds" if self.added else "no longer holds"
        return f"{self.agency} {verb} the duty {self.duty}"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"kind": "duty", "agency": self.agency, "duty": self.duty,
                "change": "added" if self.added else "removed"}  # fmt: skip


CatalogChangeKind = Literal[
    "dataset added",
    "dataset removed",
    "field added",
    "field removed",
    "frequency changed",
    "duty requirement changed",
    "administrator changed",
]


@dataclass(frozen=True, slots=True)
class CatalogChange:
    """A change to the catalogue's entries that is not itself a grant."""

    kind: CatalogChangeKind
    subject: str
    old: str | None = None
    new: str | None = None

    def describe(self) -> str:
        """The change in words."""
        if self.old is None and self.new is None:
            return f"{self.kind}: {self.subject}"
        return f"{self.kind}: {self.subject}: {self.old or '-'} -> {self.new or '-'}"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"kind": self.kind, "subject": self.subject, "from": self.old, "to": self.new}


Reduction = GrantChange | ScopeChange | DutyChange


@dataclass(frozen=True, slots=True)
class PolicyDiff:
    """Every change from one policy to another, decided on `day`."""

    old_version: str
    new_version: str
    day: str
    grants: tuple[GrantChange, ...]
    scopes: tuple[ScopeChange, ...]
    duties: tuple[DutyChange, ...]
    catalog: tuple[CatalogChange, ...]

    @property
    def reductions(self) -> tuple[Reduction, ...]:
        """What removes shared information from someone (Art. 9: needs approval)."""
        changes: tuple[Reduction, ...] = (*self.grants, *self.scopes, *self.duties)
        return tuple(change for change in changes if change.reduction)

    @property
    def additions(self) -> tuple[Reduction, ...]:
        """What opens access (Art. 19: takes effect at once)."""
        changes: tuple[Reduction, ...] = (*self.grants, *self.scopes, *self.duties)
        return tuple(change for change in changes if not change.reduction)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, as `govgate catalog diff --json` prints it."""
        return {
            "from": self.old_version,
            "to": self.new_version,
            "day": self.day,
            "removed": [change.as_dict() for change in self.reductions],
            "added": [change.as_dict() for change in self.additions],
            "catalogue": [change.as_dict() for change in self.catalog],
        }


def diff_policies(old: Policy, new: Policy) -> PolicyDiff:
    """Every change from `old` to `new`; both are decided on the same day.

    Raises ValueError when they were decided on different days (a temporary rule ending would
    show as a change that no catalogue made).
    """
    if old.day != new.day:
        raise ValueError(
            f"Policies decided on different days ({old.day}, {new.day}) cannot be compared; "
            "decide both on one day."
        )
    codes = [a.code for a in new.catalog.agencies]
    codes += [a.code for a in old.catalog.agencies if a.code not in codes]
    grants: list[GrantChange] = []
    scopes: list[ScopeChange] = []
    duties: list[DutyChange] = []
    for code in codes:
        before, after = _held(old.catalog, code), _held(new.catalog, code)
        union = _grant_changes(code, None, _grants(old, code), _grants(new, code))
        grants += union
        scopes += _scope_changes(code, None, _grants(old, code), _grants(new, code))
        seen = {(g.method, g.field, g.added) for g in union}
        for duty in (d for d in after if d in before):
            old_view, new_view = old.grants_for(code, duty), new.grants_for(code, duty)
            grants += [
                g
                for g in _grant_changes(code, duty, old_view, new_view)
                if (g.method, g.field, g.added) not in seen
            ]
            union_scopes = {s.entity for s in scopes if s.agency == code and s.duty is None}
            scopes += [
                s
                for s in _scope_changes(code, duty, old_view, new_view)
                if s.entity not in union_scopes
            ]
        duties += [DutyChange(code, d, added=False) for d in before if d not in after]
        duties += [DutyChange(code, d, added=True) for d in after if d not in before]
    return PolicyDiff(
        old_version=old.version,
        new_version=new.version,
        day=new.day.isoformat(),
        grants=tuple(grants),
        scopes=tuple(scopes),
        duties=tuple(duties),
        catalog=tuple(catalog_changes(old.catalog, new.catalog)),
    )


def _held(catalog: Catalog, code: str) -> tuple[str, ...]:
    return next((a.duties for a in catalog.agencies if a.code == code), ())


def _grants(policy: Policy, code: str) -> Grants | None:
    if all(a.code != code for a in policy.catalog.agencies):
        return None
    return policy.grants_for(code)


def _grant_changes(
    code: str, duty: str | None, old: Grants | None, new: Grants | None
) -> list[GrantChange]:
    changes = []
    for method in METHODS:
        before = old.granted(method) if old else frozenset()
        after = new.granted(method) if new else frozenset()
        changes += [GrantChange(code, duty, method, f, added=False) for f in sorted(before - after)]
        changes += [GrantChange(code, duty, method, f, added=True) for f in sorted(after - before)]
    return changes


def _scope_changes(
    code: str, duty: str | None, old: Grants | None, new: Grants | None
) -> list[ScopeChange]:
    if old is None or new is None:  # an agency added or removed: its grants say it all
        return []
    return [
        ScopeChange(code, duty, entity, scope, new.scopes[entity])
        for entity, scope in old.scopes.items()
        if new.scopes.get(entity, RowScope("none")) != scope
    ]


def catalog_changes(old: Catalog, new: Catalog) -> list[CatalogChange]:
    """Datasets and fields added or removed, frequencies, duty requirements, administrator."""
    changes: list[CatalogChange] = []
    before = {d.id: d for d in old.datasets}
    after = {d.id: d for d in new.datasets}
    changes += [CatalogChange("dataset removed", i) for i in before if i not in after]
    changes += [CatalogChange("dataset added", i) for i in after if i not in before]
    for dataset_id in (i for i in after if i in before):
        was, now = before[dataset_id], after[dataset_id]
        old_fields = [f.field for f in was.fields]
        new_fields = [f.field for f in now.fields]
        changes += [
            CatalogChange("field removed", f"{dataset_id}/{f}")
            for f in old_fields
            if f not in new_fields
        ]
        changes += [
            CatalogChange("field added", f"{dataset_id}/{f}")
            for f in new_fields
            if f not in old_fields
        ]
        if was.frequency != now.frequency:
            changes.append(
                CatalogChange(
                    "frequency changed", dataset_id, was.frequency.text, now.frequency.text
                )
            )
    old_codes = {a.code for a in old.agencies}
    for agency in (a for a in new.agencies if a.code in old_codes):
        was_required = old.duty_required(agency.code)
        if was_required != new.duty_required(agency.code):
            changes.append(
                CatalogChange(
                    "duty requirement changed",
                    agency.code,
                    "required" if was_required else "optional",
                    "optional" if was_required else "required",
                )
            )
    if old.administrator != new.administrator:
        changes.append(
            CatalogChange("administrator changed", "platform", old.administrator, new.administrator)
        )
    return changes
