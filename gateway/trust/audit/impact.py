"""Whom a catalogue change hurts (Art. 9): each reduction's use, counted from the audit log.

Before the government approves a change that removes shared information, the approver should
see who relied on it. For each reduction (policies.diff), the requests in a period that used
what is being removed, by the agency that loses it:

- a grant `query Type.field`: requests that released data (decision `allowed`) and read the
  field (the record's `fields`);
- a grant `verify Type.field`: requests that released data and verified a claim about a
  `Type` (`Query.verifyType` in `fields`); the log does not record which claims were checked,
  so every verification of that type counts;
- a narrower row scope: requests that returned records of that type (`records`);
- a duty taken away: requests that named it (`duty`).

A reduction to one duty of an agency counts only the requests that named that duty; a
reduction to the agency as a whole counts its requests whatever duty they named.
"""

from __future__ import annotations

from collections.abc import AsyncIterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from policies.diff import DutyChange, ScopeChange

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from gateway.trust.audit.report import Period
    from policies.diff import Reduction

__all__ = ["Use", "impact"]


@dataclass(slots=True)
class Use:
    """How often something was used in the period, and when last."""

    requests: int = 0
    #: The `at` of the last request that used it (ISO 8601 UTC), None when none did.
    last: str | None = None

    def count(self, at: str) -> None:
        """One more request, at `at`."""
        self.requests += 1
        if self.last is None or at > self.last:
            self.last = at

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"requests": self.requests, "last": self.last}


def _uses(reduction: Reduction, content: Mapping[str, Any]) -> bool:
    """Whether the audited request `content` used what `reduction` removes."""
    duty = content.get("duty")
    if isinstance(reduction, DutyChange):
        return duty == reduction.duty
    if reduction.duty is not None and duty != reduction.duty:
        return False
    if content.get("decision") != "allowed":
        return False
    if isinstance(reduction, ScopeChange):
        prefix = f"{reduction.entity}:"
        return any(str(record).startswith(prefix) for record in content.get("records", ()))
    fields = content.get("fields", ())
    if reduction.method == "verify":
        return f"Query.verify{reduction.field.partition('.')[0]}" in fields
    return reduction.field in fields


async def impact(
    contents: AsyncIterable[Mapping[str, Any]] | Iterable[Mapping[str, Any]],
    reductions: Iterable[Reduction],
    period: Period,
) -> dict[Reduction, Use]:
    """Each reduction's use in `period`, from audit contents (async or not; the store's or an
    export's, as `AuditEntry.content()` writes them)."""
    uses: dict[Reduction, Use] = {}
    by_agency: dict[str, list[Reduction]] = {}
    for reduction in reductions:
        uses[reduction] = Use()
        by_agency.setdefault(reduction.agency, []).append(reduction)

    def add(content: Mapping[str, Any]) -> None:
        at = str(content.get("at", ""))
        if not period.covers(at):
            return
        for reduction in by_agency.get(str(content.get("agency")), ()):
            if _uses(reduction, content):
                uses[reduction].count(at)

    if isinstance(contents, AsyncIterable):
        async for content in contents:
            add(content)
    else:
        for content in contents:
            add(content)
    return uses
