"""What access requests and objections share: clock, ids, steps, visibility, recording."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import IntegrityError

from gateway.workflows.errors import (
    CaseChangedError,
    CaseNotFoundError,
    StepNotAllowedError,
    WorkflowInputError,
    WrongStateError,
)
from gateway.workflows.tables import event_row, workflow_cases, workflow_parties
from gateway.workflows.types import WorkflowEvent

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from gateway.workflows.store import StoredCase, WorkflowStore
    from gateway.workflows.types import Actor, CaseKind, Catalogue, Clock, Recorder, Row
    from gateway.workflows.working_days import Deadline, WorkingCalendar

__all__ = [
    "Core",
    "Step",
    "deadline_json",
    "parse_stamp",
    "stamp",
    "value_digest",
    "wrong_since_text",
]

#: One step to record: (action, state after it, reason, detail).
Step = tuple[str, str, "str | None", "Mapping[str, Any]"]

_PREFIX: dict[str, str] = {"access": "AR", "objection": "OB"}
_NOUNS: dict[str, str] = {"access": "access request", "objection": "objection"}


def stamp(moment: datetime) -> str:
    """`moment` as the audit log writes times: ISO 8601 UTC, microseconds, `Z`."""
    if moment.tzinfo is None:
        raise ValueError(f"{moment.isoformat()} has no time zone; pass an aware datetime (UTC)")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_stamp(text: str) -> datetime:
    """A time written by `stamp`, back as an aware datetime."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def deadline_json(deadline: Deadline) -> dict[str, Any]:
    """A deadline as an event's detail keeps it (what the audit record shows)."""
    return {
        "workingDays": deadline.working_days,
        "day": deadline.day.isoformat(),
        "endsAt": stamp(deadline.ends_at),
        "warnings": list(deadline.warnings),
    }


def wrong_since_text(moment: datetime | None, now: datetime) -> str | None:
    """The start of the window a value was wrong in, checked: aware and not in the future."""
    if moment is None:
        return None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise WorkflowInputError(
            f"The time the value became wrong ({moment.isoformat()}) has no time zone; give one."
        )
    if moment > now:
        raise WorkflowInputError(
            f"The value cannot have become wrong at {stamp(moment)}, after now ({stamp(now)}); "
            "give the time it was last right, or none."
        )
    return stamp(moment)


def value_digest(salt: str, value: object) -> str:
    """A salted SHA-256 of a value: it confirms a change without keeping the value."""
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return hmac.new(bytes.fromhex(salt), text.encode("utf-8"), hashlib.sha256).hexdigest()


class Core:
    """The machinery under both workflows; `kind` says which."""

    def __init__(
        self,
        kind: CaseKind,
        store: WorkflowStore,
        catalogue: Catalogue,
        calendar: WorkingCalendar,
        *,
        recorder: Recorder | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.kind: CaseKind = kind
        self.store = store
        self.catalogue = catalogue
        self.calendar = calendar
        self.recorder: Recorder = recorder or store.record
        self.clock: Clock = clock or (lambda: datetime.now(UTC))
        self.noun = _NOUNS[kind]

    def now(self) -> datetime:
        """The clock's time, checked to be aware."""
        moment = self.clock()
        stamp(moment)  # raises for a naive clock
        return moment

    def new_id(self) -> str:
        """A fresh case id: `AR-` or `OB-` and twelve random hex digits (unguessable)."""
        return f"{_PREFIX[self.kind]}-{secrets.token_hex(6).upper()}"

    def is_administrator(self, actor: Actor) -> bool:
        """Whether `actor` acts for the platform administrator (Art. 5)."""
        return actor.agency == self.catalogue.administrator

    async def visible(self, actor: Actor, case_id: str) -> StoredCase:
        """The case, when `actor` is a party to it or the administrator; else as if absent."""
        found = await self.store.case(case_id.strip()) if len(case_id) <= 40 else None
        if (
            found is not None
            and found.kind == self.kind
            and (self.is_administrator(actor) or any(a == actor.agency for a, _ in found.parties))
        ):
            return found
        raise CaseNotFoundError(
            f"There is no {self.noun} {case_id[:40]!r} that {actor.agency} is a party to; "
            f"check the id against your list of {self.noun}s."
        )

    def require(self, allowed: bool, actor: Actor, step: str, who: str) -> None:
        """Refuse `step` unless `allowed`, saying who may take it."""
        if not allowed:
            raise StepNotAllowedError(
                f"{actor.agency} may not {step}: only {who} may; ask them to."
            )

    def require_state(self, case: StoredCase, *states: str, step: str) -> None:
        """Refuse `step` unless the case is in one of `states`, saying where it stands."""
        if case.last.state not in states:
            raise WrongStateError(
                f"{self.noun.capitalize()} {case.id} is {case.last.state}, so it cannot "
                f"{step} (that needs it to be {' or '.join(states)}); reload it and take the "
                "step it is waiting for."
            )

    def events(
        self,
        case_id: str,
        after: int,
        actor: Actor,
        at: datetime,
        steps: Sequence[Step],
    ) -> list[WorkflowEvent]:
        """Events numbered from `after + 1`: (action, state, reason, detail) each."""
        return [
            WorkflowEvent(
                case=case_id,
                kind=self.kind,
                step=after + number,
                action=action,
                state=state,
                at=stamp(at),
                agency=actor.agency,
                officer=actor.officer,
                reason=reason,
                detail=dict(detail),
            )
            for number, (action, state, reason, detail) in enumerate(steps, start=1)
        ]

    def filing_rows(
        self, case_id: str, actor: Actor, at: datetime, values: Mapping[str, Any],
        parties: Sequence[tuple[str, str]],
    ) -> list[Row]:  # fmt: skip
        """The rows of a new case: its filing row and its parties."""
        case: dict[str, Any] = {
            "id": case_id, "kind": self.kind, "filed_at": stamp(at), "agency": actor.agency,
            "officer": actor.officer, "duty": None, "record": None, "value_salt": None,
            "value_sha256": None, **values,
        }  # fmt: skip
        case["fields"] = json.dumps(list(values.get("fields", ())))
        rows: list[Row] = [(workflow_cases, case)]
        rows += [
            (workflow_parties, {"case_id": case_id, "agency": agency, "role": role})
            for agency, role in sorted(set(parties))
        ]
        return rows

    async def commit(
        self, case_id: str, events: Sequence[WorkflowEvent], rows: Sequence[Row] = ()
    ) -> None:
        """Record `events` (and any other `rows`) through the recorder, atomically."""
        everything = [*rows, *(event_row(e) for e in events)]
        try:
            await self.recorder(events, everything)
        except IntegrityError:
            raise CaseChangedError(
                f"{self.noun.capitalize()} {case_id} changed while this step was being "
                "recorded (another step came first); reload it and decide again."
            ) from None
