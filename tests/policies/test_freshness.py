"""Freshness as each agency may know it (Art. 17): the hour only with `updatedAt`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from policies.freshness import freshness_of

if TYPE_CHECKING:
    from policies.grants import Policy

EARLY = datetime(2026, 11, 20, 0, 0, 1, tzinfo=UTC)
LATE = datetime(2026, 11, 20, 23, 59, 59, tzinfo=UTC)


def licences_at(policy: Policy, agency: str, newest: datetime, now: datetime) -> tuple[object, ...]:
    dataset = policy.catalog.dataset("electronic-licences")  # real time: a day's age allowed
    [state] = freshness_of([dataset], {"licenses": newest}, now, grants=policy.grants_for(agency))
    return state.shown, state.fresh, state.age_seconds if state.exact else None


def test_without_updated_at_nothing_said_about_freshness_depends_on_the_hour(
    policy: Policy,
) -> None:
    # GZ-PSB reads licences but not License.updatedAt. Whether the newest licence changed a
    # second after midnight or a second before the next one, it learns the same at every
    # moment: the flip to stale (polled minute by minute) would otherwise tell the hour.
    start = datetime(2026, 11, 20, tzinfo=UTC)
    moments = [start + timedelta(minutes=m) for m in range(0, 3 * 24 * 60, 7)]
    early = [licences_at(policy, "GZ-PSB", EARLY, now) for now in moments]
    late = [licences_at(policy, "GZ-PSB", LATE, now) for now in moments]
    assert early == late
    assert {shown for shown, _, _ in early} == {"2026-11-20"}
    # It turns stale at a midnight: a day after the end of the day of the change.
    turned = next(now for now, (_, fresh, _) in zip(moments, early, strict=True) if not fresh)
    assert turned - datetime(2026, 11, 22, tzinfo=UTC) < timedelta(minutes=7)


def test_with_updated_at_an_agency_gets_the_second_and_the_exact_age(policy: Policy) -> None:
    now = datetime(2026, 11, 21, 12, tzinfo=UTC)
    assert licences_at(policy, "GZ-AMR", EARLY, now) == ("2026-11-20T00:00:01Z", False, 129599.0)
    assert licences_at(policy, "GZ-AMR", LATE, now) == ("2026-11-20T23:59:59Z", True, 43201.0)
