"""The seams the wiring connects: who acts, the catalogue, the sources, the audit log.

The workflow core decides nothing about tokens, GraphQL or Casbin itself; it is handed:

- an `Actor` (the token's agency and its `act` officer, Art. 29, 34),
- a `Catalogue` (the served policy: who provides a field, what a duty already gets),
- a `CanRead` check and a `ReadSource` reader (the resolvers, for objections),
- a `Recorder` that writes a step's rows and its audit records in one transaction,
- a `Clock` (tests pin it).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from sqlalchemy import Table

from gateway.workflows.refs import RecordRef

__all__ = [
    "ABSENT",
    "Absent",
    "Actor",
    "CanRead",
    "CaseKind",
    "Catalogue",
    "Clock",
    "FieldFacts",
    "ReadSource",
    "Recorder",
    "Row",
    "WorkflowEvent",
]

CaseKind = Literal["access", "objection"]

#: The current time, aware (UTC).
Clock = Callable[[], datetime]

#: One row a step inserts: (table, values). Workflow tables are append-only.
Row = tuple[Table, dict[str, Any]]


@dataclass(frozen=True, slots=True, kw_only=True)
class Actor:
    """Who takes a step: the agency (the token's `sub`) and the officer (its `act.sub`)."""

    agency: str
    officer: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FieldFacts:
    """What the catalogue says about one field."""

    #: The agency whose dataset provides it (Art. 12-14: one provider per field).
    provider: str
    #: False for secret or not-shareable fields: no grant can open them (Art. 16).
    shareable: bool


class Catalogue(Protocol):
    """The served policy, as the workflows ask it (the wiring backs it with `Policy`)."""

    @property
    def administrator(self) -> str:
        """The platform administrator's agency code (Art. 5)."""
        ...

    def duties_of(self, agency: str) -> tuple[str, ...] | None:
        """The duties `agency` holds; None when it is not an agency in the catalogue."""
        ...

    def field_facts(self, field: str) -> FieldFacts | None:
        """Who provides `Type.field` and whether it may be shared; None when not catalogued."""
        ...

    def granted(self, agency: str, duty: str, fields: Sequence[str]) -> Mapping[str, str]:
        """Of `fields`, those `agency` may already query under `duty`: field -> the entry
        that grants it (`catalog:datasets/ID/field`, or `rules:FILE:LINE`)."""
        ...


#: May `agency` read `field` (`Type.field`) of `record` now? False for an absent record too.
CanRead = Callable[[str, RecordRef, str], Awaitable[bool]]


class Absent:
    """The marker `ReadSource` returns for a record its source does not hold (`is ABSENT`)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT = Absent()

#: The current value of `field` (`Type.field`) of `record` in its provider's database: any
#: JSON-compatible value (None for an empty field), or ABSENT when the record is gone.
ReadSource = Callable[[RecordRef, str], Awaitable[object]]


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkflowEvent:
    """One step of a case: what happened, to which case, who did it, when and why."""

    case: str
    kind: CaseKind
    #: 1 for the filing, then one more per step (two steps never share a number).
    step: int
    #: filed, opened, forwarded, decided, made-available, checked, corrected, notified.
    action: str
    #: The case's state after this step.
    state: str
    #: ISO 8601 UTC with microseconds and `Z`, like the audit log's `at`.
    at: str
    agency: str
    officer: str | None
    reason: str | None
    #: What else the step fixed: references, outcomes, deadlines, counts (JSON-compatible).
    detail: Mapping[str, Any] = field(default_factory=dict)

    def summary(self) -> str:
        """One line for the audit record's `reason`: `access AR-1f2e step 3 decided: ...`."""
        why = f": {self.reason}" if self.reason else ""
        return f"{self.kind} {self.case} step {self.step} {self.action} -> {self.state}{why}"


#: Writes a step: inserts `rows` (the case's rows, this step's events among them) and the
#: audit records of `events`, all in one transaction. Raises sqlalchemy's IntegrityError when
#: another step took the same number first (the core turns it into CaseChangedError).
Recorder = Callable[[Sequence[WorkflowEvent], Sequence[Row]], Awaitable[None]]
