"""Working days: China's arrangement from chinese-calendar, a supplied file, or Monday-Friday."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

import pytest

from gateway.workflows import CHINA, WorkingCalendar, parse_calendar

if TYPE_CHECKING:
    from pathlib import Path

ARRANGEMENT_2027 = """\
2027:
  source: test arrangement (not the State Council's)
  holidays:
    New Year's Day: 2027-01-01
    Spring Festival: 2027-02-06 .. 2027-02-12
  workdays:
    - 2027-02-14
"""


def at(text: str) -> datetime:
    """A time in China, e.g. '2026-09-30 10:00'."""
    return datetime.fromisoformat(text).replace(tzinfo=CHINA)


def test_three_working_days_from_the_eve_of_national_day_end_on_the_make_up_saturday() -> None:
    deadline = WorkingCalendar().deadline(at("2026-09-30 10:00"), 3)
    # Oct 1-7 are the holiday; Thu 8 and Fri 9 count, Sat 10 is a make-up working day.
    assert deadline.day == date(2026, 10, 10)
    assert deadline.ends_at == datetime(2026, 10, 10, 16, 0, tzinfo=UTC)  # 24:00 in China
    assert deadline.warnings == ()


def test_the_filing_day_never_counts_whatever_the_hour() -> None:
    calendar = WorkingCalendar()
    early = calendar.deadline(at("2026-09-30 00:01"), 3)
    late = calendar.deadline(at("2026-09-30 23:59"), 3)
    assert early.day == late.day == date(2026, 10, 10)


def test_a_utc_time_counts_from_its_day_in_china() -> None:
    # 20:00 UTC on Sep 29 is already Sep 30 in China.
    deadline = WorkingCalendar().deadline(datetime(2026, 9, 29, 20, 0, tzinfo=UTC), 3)
    assert deadline.day == date(2026, 10, 10)


def test_five_working_days_for_art_19_cross_the_national_day_holiday() -> None:
    # Decided Tue Sep 29: Sep 30, Oct 8, Oct 9, Sat Oct 10 (make-up), Mon Oct 12.
    deadline = WorkingCalendar().deadline(at("2026-09-29 15:00"), 5)
    assert deadline.day == date(2026, 10, 12)
    # Counting Monday-Friday would have ended it on Oct 6, in the middle of the holiday.
    assert WorkingCalendar().is_working_day(date(2026, 10, 6)) is False


def test_a_make_up_sunday_before_spring_festival_counts_and_the_holiday_does_not() -> None:
    calendar = WorkingCalendar()
    assert calendar.is_working_day(date(2026, 2, 14)) is True  # Saturday worked
    assert calendar.is_working_day(date(2026, 2, 16)) is False  # Monday off
    # Filed Fri Feb 13: Sat 14 counts, then nothing until Tue Feb 24.
    assert calendar.deadline(at("2026-02-13 09:00"), 3).day == date(2026, 2, 25)


def test_days_left_count_today_while_it_is_a_working_day_and_stop_at_the_deadline() -> None:
    calendar = WorkingCalendar()
    deadline = calendar.deadline(at("2026-09-30 10:00"), 3)  # ends Oct 10
    assert calendar.remaining(deadline, at("2026-09-30 18:00")).left == 3
    assert calendar.remaining(deadline, at("2026-10-04 12:00")).left == 3  # holiday: none used
    assert calendar.remaining(deadline, at("2026-10-09 08:00")).left == 2
    last_day = calendar.remaining(deadline, at("2026-10-10 23:59"))
    assert (last_day.left, last_day.overdue) == (1, False)
    passed = calendar.remaining(deadline, at("2026-10-11 00:00"))
    assert (passed.left, passed.overdue) == (0, True)
    assert calendar.is_overdue(deadline, at("2026-10-11 00:00"))
    assert not calendar.is_overdue(deadline, at("2026-10-10 23:59"))


def test_2027_without_a_file_counts_monday_to_friday_and_says_so_once_in_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calendar = WorkingCalendar()
    with caplog.at_level(logging.WARNING, logger="govgate.workflows"):
        first = calendar.deadline(at("2027-02-05 10:00"), 3)
        second = calendar.deadline(at("2027-02-05 11:00"), 3)
    assert first.day == date(2027, 2, 10)  # Mon 8, Tue 9, Wed 10: no Spring Festival known
    assert len(first.warnings) == 1
    assert "2027" in first.warnings[0]
    assert "Monday to Friday" in first.warnings[0]
    assert "working-day file" in first.warnings[0]
    assert second.warnings == first.warnings  # every result carries it
    logged = [r for r in caplog.records if "2027" in r.getMessage()]
    assert len(logged) == 1  # but the log hears it once
    assert calendar.origin(2027) == "fallback"


def test_a_deadline_running_into_2027_warns_even_when_it_was_filed_in_2026() -> None:
    deadline = WorkingCalendar().deadline(at("2026-12-30 10:00"), 5)
    assert deadline.day == date(2027, 1, 6)
    assert len(deadline.warnings) == 1
    assert "2027" in deadline.warnings[0]


def test_2027_with_a_supplied_file_counts_its_holidays_and_make_up_days(tmp_path: Path) -> None:
    path = tmp_path / "working-days.yaml"
    path.write_text(ARRANGEMENT_2027, "utf-8")
    calendar = WorkingCalendar.load(path)
    deadline = calendar.deadline(at("2027-02-05 10:00"), 3)
    # Feb 6-12 off; Sun Feb 14 worked; then Mon 15, Tue 16.
    assert deadline.day == date(2027, 2, 16)
    assert deadline.warnings == ()
    assert calendar.origin(2027) == "supplied"
    assert calendar.remaining(deadline, at("2027-02-10 09:00")).warnings == ()


def test_a_supplied_year_overrides_the_package_for_that_year_only() -> None:
    text = "2026:\n  holidays:\n    Extra day: 2026-09-30\n"
    calendar = WorkingCalendar(parse_calendar(text))
    assert calendar.is_working_day(date(2026, 9, 30)) is False
    # The supplied 2026 has no National Day: the deployment's file is taken as written.
    assert calendar.is_working_day(date(2026, 10, 8)) is True
    assert WorkingCalendar().is_working_day(date(2026, 9, 30)) is True


def test_a_deadline_needs_an_aware_time_and_a_sensible_count() -> None:
    calendar = WorkingCalendar()
    with pytest.raises(ValueError, match="time zone"):
        calendar.deadline(datetime(2026, 9, 30, 10, 0), 3)
    with pytest.raises(ValueError, match="1 to 400"):
        calendar.deadline(at("2026-09-30 10:00"), 0)
