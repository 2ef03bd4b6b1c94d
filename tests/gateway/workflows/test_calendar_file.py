"""The working-day file: every problem at once, each with its line."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

import pytest

from gateway.workflows import CalendarFileError, WorkingCalendar, load_calendar_file, parse_calendar

if TYPE_CHECKING:
    from pathlib import Path


def problems(text: str) -> list[str]:
    with pytest.raises(CalendarFileError) as caught:
        parse_calendar(text, name="days.yaml")
    return list(caught.value.problems)


def test_a_valid_file_gives_each_years_holidays_and_workdays() -> None:
    years = parse_calendar(
        "2027:\n  holidays:\n    National Day: 2027-10-01 .. 2027-10-07\n"
        "  workdays: [2027-09-26, 2027-10-09]\n"
    )
    assert set(years) == {2027}
    assert len(years[2027].holidays) == 7
    assert years[2027].workdays == {date(2027, 9, 26), date(2027, 10, 9)}


def test_every_problem_is_reported_with_its_line() -> None:
    found = problems(
        "2027:\n"  # 1
        "  holidays:\n"  # 2
        "    A: 2027-01-01\n"  # 3
        "    B: 2027-02-30\n"  # 4
        "    C: 2027-02-12 .. 2027-02-06\n"  # 5
        "    D: 2026-12-31\n"  # 6
        "    E: 2027-01-01\n"  # 7
        "  workdays:\n"  # 8
        "    - 2027-02-10\n"  # 9
        "    - 2027-01-02\n"  # 10
        "  colour: red\n"  # 11
        "x27: {}\n"  # 12
    )
    assert found == [
        "days.yaml:4: '2027-02-30' is not a day; write days as YYYY-MM-DD, ranges as FIRST .. LAST",
        "days.yaml:5: 2027-02-12 .. 2027-02-06 ends before it starts; write FIRST .. LAST",
        "days.yaml:6: 2026-12-31 is not in 2027; put it under 2026",
        "days.yaml:7: 2027-01-01 is already a holiday (A); list each day once",
        "days.yaml:9: 2027-02-10 is a Wednesday: a make-up working day is a Saturday or Sunday "
        "(weekdays are working days already)",
        "days.yaml:11: unknown key 'colour' under 2027; the keys are holidays, source, workdays",
        "days.yaml:12: a year is four digits like 2027, not 'x27'",
    ]
    # 2027-01-02 (line 10) is a Saturday that is no holiday: a valid make-up day.


def test_a_day_both_off_and_worked_and_a_missing_holiday_list_are_refused() -> None:
    assert problems(
        "2027:\n  holidays:\n    X: 2027-02-13 .. 2027-02-14\n  workdays:\n    - 2027-02-14\n"
        "2028:\n  workdays: []\n"
    ) == [
        "days.yaml:5: 2027-02-14 is both a workday and a holiday (X); keep one",
        "days.yaml:7: 2028 has no holidays: list them (name: day, or FIRST .. LAST)",
    ]


def test_broken_yaml_names_its_line() -> None:
    found = problems("2027:\n  holidays:\n    A: [2027-01-01\n")
    assert len(found) == 1
    assert found[0].startswith("days.yaml:4: not valid YAML")


def test_a_year_listed_twice_is_refused() -> None:
    found = problems("2027:\n  holidays: {A: 2027-01-01}\n2027:\n  holidays: {B: 2027-05-01}\n")
    assert found == ["days.yaml:3: 2027 is listed twice; keep one arrangement per year"]


def test_an_unreadable_file_says_where_to_look(tmp_path: Path) -> None:
    with pytest.raises(CalendarFileError, match=r"cannot be read .*\[workflows\] calendar"):
        load_calendar_file(tmp_path / "missing.yaml")


def test_an_empty_file_supplies_nothing_and_the_calendar_still_counts(tmp_path: Path) -> None:
    path = tmp_path / "days.yaml"
    path.write_text("# nothing yet\n", "utf-8")
    assert load_calendar_file(path) == {}
    assert WorkingCalendar.load(path).origin(2026) == "chinese-calendar"
