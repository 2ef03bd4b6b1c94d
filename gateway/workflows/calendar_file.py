"""The deployment's working-day file: years `chinese-calendar` does not cover yet.

The State Council publishes each year's arrangement late in the year before; until a release
of `chinese-calendar` carries it, a deployment writes it down (YAML):

    2027:
      source: 国务院办公厅关于2027年部分节假日安排的通知   # optional: where it was published
      holidays:                       # name: a day, or FIRST .. LAST (both included)
        New Year's Day: 2027-01-01
        Spring Festival: 2027-02-06 .. 2027-02-12
      workdays:                       # weekend days worked instead (调休上班)
        - 2027-02-14

Every problem is reported at once, each with its line; the gateway refuses to start on a file
with problems rather than count deadlines wrong (Art. 19, 22).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from gateway.workflows.errors import CalendarFileError

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["YearArrangement", "load_calendar_file", "parse_calendar"]

_KEYS = ("holidays", "source", "workdays")
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_RANGE = re.compile(r"(\S+)\s*\.\.\s*(\S+)")
#: The longest holiday a range may describe; official ones last at most nine days.
_LONGEST = 31
_MOST_BYTES = 1_000_000
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True, slots=True, kw_only=True)
class YearArrangement:
    """One year's holidays and make-up working days, as the deployment supplied them."""

    year: int
    holidays: frozenset[date]
    workdays: frozenset[date]
    #: Where it was read from (`FILE:LINE`), for messages.
    origin: str


def load_calendar_file(path: str | Path) -> dict[int, YearArrangement]:
    """The years in the working-day file at `path`; raises CalendarFileError."""
    path = Path(path)
    try:
        if path.stat().st_size > _MOST_BYTES:
            raise CalendarFileError([f"{path}: larger than 1 MB; a year takes about 20 lines"])
        text = path.read_text("utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise CalendarFileError(
            [
                f"{path}: cannot be read ({error}); check the path in [workflows] calendar "
                "and that the gateway may read the file (UTF-8)"
            ]
        ) from None
    return parse_calendar(text, name=str(path))


def parse_calendar(text: str, *, name: str = "<calendar>") -> dict[int, YearArrangement]:
    """The years in working-day file `text`; raises CalendarFileError with every problem."""
    problems: list[tuple[int, str]] = []
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise CalendarFileError([f"{name}:{line}: not valid YAML ({error})"]) from None
    if root is None:
        return {}
    if not isinstance(root, yaml.MappingNode):
        raise CalendarFileError([f"{name}:{_line(root)}: the file maps years to arrangements"])
    years: dict[int, YearArrangement] = {}

    def say(node: yaml.Node, message: str) -> None:
        problems.append((_line(node), f"{name}:{_line(node)}: {message}"))

    for key, section in root.value:
        if not (isinstance(key, yaml.ScalarNode) and re.fullmatch(r"\d{4}", key.value)):
            say(key, f"a year is four digits like 2027, not {_shown(key)}")
            continue
        year = int(key.value)
        if year in years:
            say(key, f"{year} is listed twice; keep one arrangement per year")
            continue
        found = _year(year, section, say)
        if found is not None:
            holidays, workdays = found
            years[year] = YearArrangement(
                year=year, holidays=holidays, workdays=workdays, origin=f"{name}:{_line(key)}"
            )
    if problems:
        raise CalendarFileError([message for _, message in sorted(problems)])
    return years


def _year(
    year: int, section: yaml.Node, say: Callable[[yaml.Node, str], None]
) -> tuple[frozenset[date], frozenset[date]] | None:
    if not isinstance(section, yaml.MappingNode):
        say(section, f"{year} maps to holidays, workdays and source, not {_shown(section)}")
        return None
    members = {}
    for key, value in section.value:
        word = key.value if isinstance(key, yaml.ScalarNode) else _shown(key)
        if word not in _KEYS:
            say(key, f"unknown key {word!r} under {year}; the keys are {', '.join(_KEYS)}")
        elif word in members:
            say(key, f"{word} is given twice under {year}; merge them")
        else:
            members[word] = value
    if "source" in members and not isinstance(members["source"], yaml.ScalarNode):
        say(members["source"], "source is one line of text saying where the arrangement is from")
    if "holidays" not in members:
        say(section, f"{year} has no holidays: list them (name: day, or FIRST .. LAST)")
        return None
    holidays = _holidays(year, members["holidays"], say)
    workdays = _workdays(year, members.get("workdays"), holidays, say)
    return frozenset(holidays), frozenset(workdays)


def _holidays(year: int, node: yaml.Node, say: Callable[[yaml.Node, str], None]) -> dict[date, str]:
    days: dict[date, str] = {}
    if not isinstance(node, yaml.MappingNode):
        say(node, "holidays map each holiday's name to a day or FIRST .. LAST")
        return days
    for key, value in node.value:
        label = key.value if isinstance(key, yaml.ScalarNode) else _shown(key)
        if not isinstance(value, yaml.ScalarNode):
            say(value, f"{label}: give a day (2027-10-01) or FIRST .. LAST, not {_shown(value)}")
            continue
        span = _span(year, value, say)
        for day in span:
            if day in days:
                say(value, f"{day} is already a holiday ({days[day]}); list each day once")
                break
            days[day] = label
    return days


def _span(year: int, node: yaml.ScalarNode, say: Callable[[yaml.Node, str], None]) -> list[date]:
    text = node.value.strip()
    match = _RANGE.fullmatch(text)
    ends = [_day(part, node, say) for part in (match.groups() if match else (text,))]
    first, last = ends[0], ends[-1]
    if first is None or last is None:
        return []
    if last < first:
        say(node, f"{first} .. {last} ends before it starts; write FIRST .. LAST")
        return []
    if (last - first).days >= _LONGEST:
        say(node, f"{first} .. {last} is longer than {_LONGEST} days; check the dates")
        return []
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    outside = [d for d in days if d.year != year]
    if outside:
        say(node, f"{outside[0]} is not in {year}; put it under {outside[0].year}")
        return []
    return days


def _workdays(
    year: int,
    node: yaml.Node | None,
    holidays: dict[date, str],
    say: Callable[[yaml.Node, str], None],
) -> set[date]:
    days: set[date] = set()
    if node is None:
        return days
    if not isinstance(node, yaml.SequenceNode):
        say(node, "workdays is a list of days, one per line (- 2027-02-14)")
        return days
    for item in node.value:
        if not isinstance(item, yaml.ScalarNode):
            say(item, f"a workday is one day like 2027-02-14, not {_shown(item)}")
            continue
        day = _day(item.value.strip(), item, say)
        if day is None:
            continue
        if day.year != year:
            say(item, f"{day} is not in {year}; put it under {day.year}")
        elif day.weekday() < 5:
            say(item, f"{day} is a {_WEEKDAYS[day.weekday()]}: a make-up working day is a "
                "Saturday or Sunday (weekdays are working days already)")  # fmt: skip
        elif day in holidays:
            say(item, f"{day} is both a workday and a holiday ({holidays[day]}); keep one")
        elif day in days:
            say(item, f"{day} is listed twice; list it once")
        else:
            days.add(day)
    return days


def _day(text: str, node: yaml.Node, say: Callable[[yaml.Node, str], None]) -> date | None:
    if _DAY.fullmatch(text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    say(node, f"{text!r} is not a day; write days as YYYY-MM-DD, ranges as FIRST .. LAST")
    return None


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def _shown(node: yaml.Node) -> str:
    if isinstance(node, yaml.ScalarNode):
        return repr(node.value)
    return "a list" if isinstance(node, yaml.SequenceNode) else "a mapping"
