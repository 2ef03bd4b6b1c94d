"""Workflows the regulation prescribes: access requests (Art. 19) and objections (Art. 22).

Deadlines count China's working days (`working_days`); cases live in append-only tables of the
gateway's database (`tables`, `store`); every step is recorded with who, when and why through a
`Recorder` the gateway connects to its audit log. See docs/workflows.md.
"""

from gateway.workflows.access import PROVISION_DAYS, AccessRequest, AccessRequests
from gateway.workflows.calendar_file import YearArrangement, load_calendar_file, parse_calendar
from gateway.workflows.catalogue import PolicyCatalogue
from gateway.workflows.corrections import Recipients, recipients
from gateway.workflows.errors import (
    CalendarFileError,
    CaseChangedError,
    CaseNotFoundError,
    InvalidRecordError,
    NotFoundError,
    NotShareableError,
    RecordNotFoundError,
    SourceReadError,
    SourceUnchangedError,
    StepNotAllowedError,
    WorkflowError,
    WorkflowInputError,
    WorkflowStoreError,
    WrongStateError,
)
from gateway.workflows.grant_rules import grant_rules, with_grant_rules
from gateway.workflows.objections import CHECK_DAYS, Objection, Objections
from gateway.workflows.refs import RecordRef
from gateway.workflows.store import Notification, StoredCase, WorkflowStore
from gateway.workflows.types import (
    ABSENT,
    Actor,
    CanRead,
    Catalogue,
    FieldFacts,
    ReadSource,
    Recorder,
    WorkflowEvent,
)
from gateway.workflows.working_days import (
    CHINA,
    Deadline,
    Remaining,
    WorkingCalendar,
)

__all__ = [
    "ABSENT",
    "CHECK_DAYS",
    "CHINA",
    "PROVISION_DAYS",
    "AccessRequest",
    "AccessRequests",
    "Actor",
    "CalendarFileError",
    "CanRead",
    "CaseChangedError",
    "CaseNotFoundError",
    "Catalogue",
    "Deadline",
    "FieldFacts",
    "InvalidRecordError",
    "NotFoundError",
    "NotShareableError",
    "Notification",
    "Objection",
    "Objections",
    "PolicyCatalogue",
    "ReadSource",
    "Recipients",
    "RecordNotFoundError",
    "RecordRef",
    "Recorder",
    "Remaining",
    "SourceReadError",
    "SourceUnchangedError",
    "StepNotAllowedError",
    "StoredCase",
    "WorkflowError",
    "WorkflowEvent",
    "WorkflowInputError",
    "WorkflowStore",
    "WorkflowStoreError",
    "WorkingCalendar",
    "WrongStateError",
    "YearArrangement",
    "grant_rules",
    "load_calendar_file",
    "parse_calendar",
    "recipients",
    "with_grant_rules",
]
