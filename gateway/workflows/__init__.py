"""Workflows the regulation prescribes: access requests (Art. 19) and objections (Art. 22).

Deadlines count China's working days (`working_days`). See docs/workflows.md.
"""

from gateway.workflows.calendar_file import load_calendar_file, parse_calendar
from gateway.workflows.errors import CalendarFileError, WorkflowError
from gateway.workflows.working_days import (
    CHINA,
    Deadline,
    Remaining,
    WorkingCalendar,
    YearArrangement,
)

__all__ = [
    "CHINA",
    "CalendarFileError",
    "Deadline",
    "Remaining",
    "WorkflowError",
    "WorkingCalendar",
    "YearArrangement",
    "load_calendar_file",
    "parse_calendar",
]
