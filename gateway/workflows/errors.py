"""Errors raised by the workflows (Art. 19 access requests, Art. 22 objections).

WorkflowError
├── CalendarFileError      (the deployment's working-day file is malformed: problems by line)
├── WorkflowInputError     (a field, record, duty, reason, reference or date is wrong or unknown)
│   ├── InvalidRecordError (a record's key fails its identifier check)
│   └── NotShareableError  (a field no grant can open: secret or not shareable, Art. 16)
├── NotFoundError          (nothing the caller may see goes by that name)
│   ├── CaseNotFoundError  (no such case, or not one the caller is a party to)
│   └── RecordNotFoundError (no such record or field, or not one the caller may read: as if absent)
├── StepNotAllowedError    (the caller is a party, but this step belongs to another party)
├── WrongStateError        (the case is not at a point where this step applies)
├── CaseChangedError       (another step was recorded on the case meanwhile)
├── SourceUnchangedError   (the provider's database still holds the value objected to)
├── SourceReadError        (the provider's database could not be read)
└── WorkflowStoreError     (the gateway's database failed)

Each class carries `code`, the `extensions.code` the GraphQL wiring answers with.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "CalendarFileError",
    "CaseChangedError",
    "CaseNotFoundError",
    "InvalidRecordError",
    "NotFoundError",
    "NotShareableError",
    "RecordNotFoundError",
    "SourceReadError",
    "SourceUnchangedError",
    "StepNotAllowedError",
    "WorkflowError",
    "WorkflowInputError",
    "WorkflowStoreError",
    "WrongStateError",
]


class WorkflowError(Exception):
    """Root of every error raised by `gateway.workflows`; the message says what to do."""

    code: ClassVar[str] = "WORKFLOW_FAILED"


class CalendarFileError(WorkflowError):
    """The working-day file cannot be used; `problems` lists each as `FILE:LINE: message`."""

    code = "CALENDAR_INVALID"

    def __init__(self, problems: list[str]) -> None:
        self.problems = tuple(problems)
        listed = "\n".join(f"  {p}" for p in problems)
        super().__init__(
            f"The working-day file has {len(problems)} problem(s); fix them and start again:\n"
            f"{listed}"
        )


class WorkflowInputError(WorkflowError):
    """Something a client sent is malformed or unknown."""

    code = "INVALID_WORKFLOW_INPUT"


class InvalidRecordError(WorkflowInputError):
    """A record's key fails its identifier's format or check character."""

    code = "INVALID_IDENTIFIER"


class NotShareableError(WorkflowInputError):
    """The field is secret or not shareable: no request can open it (Art. 16)."""

    code = "NOT_SHAREABLE"


class NotFoundError(WorkflowError):
    """Nothing the caller may see goes by that name."""

    code = "NOT_FOUND"


class CaseNotFoundError(NotFoundError):
    """No such case, or the caller is not a party to it (the same answer for both)."""


class RecordNotFoundError(NotFoundError):
    """No such record or field for the caller: absent and unreadable look the same."""


class StepNotAllowedError(WorkflowError):
    """The caller is a party to the case, but the step belongs to another party."""

    code = "STEP_NOT_ALLOWED"


class WrongStateError(WorkflowError):
    """The case is not at a point where the step applies."""

    code = "WRONG_STATE"


class CaseChangedError(WorkflowError):
    """Another step was recorded on the case between reading it and recording this one."""

    code = "CASE_CHANGED"


class SourceUnchangedError(WorkflowError):
    """The provider's database still holds the value the objection disputes."""

    code = "SOURCE_UNCHANGED"


class SourceReadError(WorkflowError):
    """The provider's database could not be read to confirm a value."""

    code = "SOURCE_UNAVAILABLE"


class WorkflowStoreError(WorkflowError):
    """The gateway's database failed while reading or recording a case."""

    code = "WORKFLOW_STORE_FAILED"
