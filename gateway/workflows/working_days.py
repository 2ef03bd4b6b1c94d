"""China's official working days, for the deadlines of Art. 19 (5 days) and Art. 22 (3 days).

A day is a working day when the State Council's arrangement for its year says so: Monday to
Friday, minus public holidays, plus the weekend days worked instead (调休上班, e.g. Saturday
2026-10-10 after National Day). Where an arrangement comes from, by year:

1. the deployment's working-day file (`gateway.workflows.calendar_file`), when it has the year;
2. `chinese-calendar`, which covers the years up to its release (2004-2026 in 1.11.0);
3. otherwise Monday to Friday, with a warning returned with every result that counted such a
   day (so pages and the API can show it) and logged once per year per calendar.

The deadline rule: N working days from an event ends at the end (24:00 China Standard Time) of
the Nth working day after the event's day in China; the event's own day never counts, whatever
the hour. Filed 2026-09-30, three working days end at the end of 2026-10-10.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

import chinese_calendar

from gateway.workflows.calendar_file import YearArrangement, load_calendar_file

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from pathlib import Path

__all__ = [
    "CHINA",
    "Deadline",
    "Remaining",
    "WorkingCalendar",
]

log = logging.getLogger("govgate.workflows")

#: China Standard Time: UTC+8 all year (no daylight saving since 1991).
CHINA = timezone(timedelta(hours=8), "CST")

#: The most working days a deadline may count (a year and a half: far beyond any article).
_MOST_DAYS = 400


@dataclass(frozen=True, slots=True, kw_only=True)
class Deadline:
    """When N working days from an event run out."""

    #: The event the count starts from (UTC).
    start: datetime
    working_days: int
    #: The last working day, in China.
    day: date
    #: The instant the deadline passes: 24:00 China time on `day`, in UTC.
    ends_at: datetime
    #: Sentences to show beside the deadline (a year counted Monday to Friday).
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Remaining:
    """Where a case stands against its deadline at one moment."""

    deadline: Deadline
    #: Working days left that count toward the deadline, today included while it is one (the
    #: start's own day never is); 0 once the deadline passed.
    left: int
    overdue: bool
    warnings: tuple[str, ...] = ()


class WorkingCalendar:
    """Counts China's working days; `supplied` years override `chinese-calendar`."""

    def __init__(self, supplied: Mapping[int, YearArrangement] | None = None) -> None:
        self.supplied = dict(supplied or {})
        self._covered: dict[int, bool] = {}
        self._logged: set[int] = set()

    @classmethod
    def load(cls, path: str | Path | None) -> WorkingCalendar:
        """A calendar with the years of the working-day file at `path` (None: none supplied).

        Raises CalendarFileError listing every problem of the file, each with its line.
        """
        if path is None:
            return cls()
        return cls(load_calendar_file(path))

    def origin(self, year: int) -> str:
        """Where `year`'s arrangement comes from: `supplied`, `chinese-calendar` or `fallback`."""
        if year in self.supplied:
            return "supplied"
        return "chinese-calendar" if self._package_covers(year) else "fallback"

    def is_working_day(self, day: date) -> bool:
        """Whether `day` is a working day in China (Monday-Friday for an uncovered year)."""
        arrangement = self.supplied.get(day.year)
        if arrangement is not None:
            if day in arrangement.workdays:
                return True
            return day.weekday() < 5 and day not in arrangement.holidays
        if self._package_covers(day.year):
            return bool(chinese_calendar.is_workday(day))
        return day.weekday() < 5

    def deadline(self, start: datetime, working_days: int) -> Deadline:
        """The deadline `working_days` working days after the day of `start` (the rule above)."""
        if not 1 <= working_days <= _MOST_DAYS:
            raise ValueError(
                f"a deadline counts 1 to {_MOST_DAYS} working days, not {working_days}"
            )
        day = _china_day(start)
        counted = 0
        years: set[int] = set()
        while counted < working_days:
            day += timedelta(days=1)
            years.add(day.year)
            if self.is_working_day(day):
                counted += 1
        ends_at = datetime.combine(day + timedelta(days=1), time(), CHINA).astimezone(UTC)
        return Deadline(
            start=start.astimezone(UTC),
            working_days=working_days,
            day=day,
            ends_at=ends_at,
            warnings=self.warnings(years),
        )

    def remaining(self, deadline: Deadline, now: datetime) -> Remaining:
        """How many working days are left before `deadline` at `now`, and whether it passed."""
        if now >= deadline.ends_at:
            return Remaining(deadline=deadline, left=0, overdue=True, warnings=deadline.warnings)
        # The days that count toward the deadline and are not over: today onwards, never the
        # start's own day (it did not count either).
        day = max(_china_day(now), _china_day(deadline.start) + timedelta(days=1))
        left = 0
        years: set[int] = set()
        while day <= deadline.day:
            years.add(day.year)
            if self.is_working_day(day):
                left += 1
            day += timedelta(days=1)
        warnings = _merged(deadline.warnings, self.warnings(years))
        return Remaining(deadline=deadline, left=left, overdue=False, warnings=warnings)

    def is_overdue(self, deadline: Deadline, now: datetime) -> bool:
        """Whether `deadline` has passed at `now`."""
        _check_aware(now)
        return now >= deadline.ends_at

    def warnings(self, years: Iterable[int]) -> tuple[str, ...]:
        """One sentence per year in `years` counted Monday to Friday (logged once per year)."""
        found = []
        for year in sorted(set(years)):
            if self.origin(year) != "fallback":
                continue
            message = (
                f"Working days in {year} are counted Monday to Friday, without public holidays "
                f"or make-up days: chinese-calendar {_package_version()} does not cover {year} "
                "and the deployment supplied no arrangement for it; add the year to the "
                "working-day file ([workflows] calendar, see docs/workflows.md)."
            )
            if year not in self._logged:
                self._logged.add(year)
                log.warning("%s", message)
            found.append(message)
        return tuple(found)

    def _package_covers(self, year: int) -> bool:
        covered = self._covered.get(year)
        if covered is None:
            try:
                chinese_calendar.is_workday(date(year, 1, 1))
                covered = True
            except NotImplementedError:  # the package's way of saying "no data for that year"
                covered = False
            self._covered[year] = covered
        return covered


def _check_aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{moment.isoformat()} has no time zone; pass an aware datetime (UTC)")


def _china_day(moment: datetime) -> date:
    _check_aware(moment)
    return moment.astimezone(CHINA).date()


def _merged(first: tuple[str, ...], second: tuple[str, ...]) -> tuple[str, ...]:
    return first + tuple(w for w in second if w not in first)


def _package_version() -> str:
    try:
        return version("chinese-calendar")
    except PackageNotFoundError:  # imported from a source tree: say so rather than fail
        return "(version unknown)"
