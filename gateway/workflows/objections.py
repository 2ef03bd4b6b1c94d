"""Objections (Art. 22): an agency disputes one shared value; it is checked and corrected.

    filed ──check: technical (administrator, within 3 working days)──> corrected + notified
    filed ──check: not technical──> with-provider (3 working days from forwarding)
    with-provider ──report: source right (provider)──> dismissed
    with-provider ──report: source wrong──> correcting
    correcting ──confirm (provider or administrator: the source value changed)──> corrected

The correction itself is made in the provider's database; govgate keeps a salted hash of the
value objected to and confirms the source no longer holds it. A correction notifies every
agency that received the field since it was wrong and supersedes their vouchers
(`gateway.workflows.corrections`).
"""

from __future__ import annotations

import dataclasses
import secrets
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from gateway.workflows import _core as shared
from gateway.workflows._core import Core, Step
from gateway.workflows.corrections import correction_rows, recipients
from gateway.workflows.errors import (
    RecordNotFoundError,
    SourceReadError,
    SourceUnchangedError,
    WorkflowError,
    WorkflowInputError,
    WorkflowStoreError,
)
from gateway.workflows.refs import RecordRef, parse_field, parse_text
from gateway.workflows.types import ABSENT

if TYPE_CHECKING:
    from datetime import datetime

    from gateway.workflows.store import StoredCase, WorkflowStore
    from gateway.workflows.types import (
        Actor,
        CanRead,
        Catalogue,
        Clock,
        ReadSource,
        Recorder,
        WorkflowEvent,
    )
    from gateway.workflows.working_days import Remaining, WorkingCalendar

__all__ = ["CHECK_DAYS", "WAITING", "Objection", "Objections"]

#: Art. 22: the administrator checks within 3 working days; so does the provider.
CHECK_DAYS = 3
#: The states in which an objection waits for someone's step (an inbox).
WAITING = ("filed", "with-provider", "correcting")

Steps = list[Step]


@dataclass(frozen=True, slots=True, kw_only=True)
class Objection:
    """An objection as its parties see it."""

    id: str
    agency: str
    officer: str | None
    record: str
    field: str
    reason: str
    filed_at: str
    #: filed, with-provider, correcting, dismissed, corrected.
    state: str
    #: `state`, or `overdue` when the check it waits for is past its deadline.
    status: str
    provider: str
    #: technical, source-wrong or source-right once checked.
    outcome: str | None = None
    #: Agencies notified of the correction, and vouchers superseded.
    notified: tuple[str, ...] = ()
    superseded_vouchers: int = 0
    #: The deadline of the check the case waits for (filed, with-provider, correcting).
    deadline: Remaining | None = None
    history: tuple[WorkflowEvent, ...] = dataclasses.field(default=(), repr=False)


class Objections:
    """Files and moves objections; `can_read` and `read_source` are the wiring's resolvers."""

    def __init__(
        self,
        store: WorkflowStore,
        catalogue: Catalogue,
        calendar: WorkingCalendar,
        *,
        can_read: CanRead,
        read_source: ReadSource,
        recorder: Recorder | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._core = Core("objection", store, catalogue, calendar, recorder=recorder, clock=clock)
        self._can_read = can_read
        self._read_source = read_source

    async def file(self, actor: Actor, *, record: str, field: str, reason: str) -> Objection:
        """File an objection on a record's field the agency can read; else as if absent."""
        core = self._core
        ref, name = RecordRef.parse(record), parse_field(field)
        if name.partition(".")[0] != ref.type:
            raise WorkflowInputError(
                f"{name} is not a field of {ref.type} records; name a {ref.type} field."
            )
        why = parse_text(reason, "reason", most=2000)
        facts = core.catalogue.field_facts(name)
        value: object = ABSENT
        if facts is not None and await self._can_read(actor.agency, ref, name):
            value = await self._read(ref, name)
        if facts is None or value is ABSENT:  # one answer for absent and unreadable
            raise RecordNotFoundError(
                f"{actor.agency} can read no {ref.type} {ref.key} with the field {name}; an "
                "objection names a record and field your agency received: check both."
            )
        salt = secrets.token_hex(16)
        case_id, now = core.new_id(), core.now()
        due = core.calendar.deadline(now, CHECK_DAYS)
        detail = {"checkBy": core.catalogue.administrator, "deadline": shared.deadline_json(due)}
        values = {"reason": why, "fields": (name,), "record": str(ref),
                  "value_salt": salt, "value_sha256": shared.value_digest(salt, value)}  # fmt: skip
        parties = [(actor.agency, "requester"), (facts.provider, "provider")]
        rows = core.filing_rows(case_id, actor, now, values, parties)
        events = core.events(case_id, 0, actor, now, [("filed", "filed", why, detail)])
        await core.commit(case_id, events, rows)
        return await self._reload(case_id, actor)

    async def check(
        self, actor: Actor, case_id: str, *, technical: bool, reason: str,
        wrong_since: datetime | None = None,
    ) -> Objection:  # fmt: skip
        """The administrator's check: a technical cause the platform corrected (recipients
        are notified), or not technical (forwarded to the provider)."""
        core = self._core
        case = await core.visible(actor, case_id)
        core.require(core.is_administrator(actor), actor, "check an objection",
                     "the platform administrator")  # fmt: skip
        core.require_state(case, "filed", step="be checked by the platform")
        why, now = parse_text(reason, "reason", most=2000), core.now()
        if technical:
            since = shared.wrong_since_text(wrong_since, now)
            steps: Steps = [
                ("checked", "filed", why, {"by": "platform", "outcome": "technical"}),
                ("corrected", "corrected", None, {"by": "platform"}),
            ]
            await self._correct(case, actor, now, steps, since)
        else:
            due = core.calendar.deadline(now, CHECK_DAYS)
            steps = [
                ("checked", "filed", why, {"by": "platform", "outcome": "not-technical"}),
                ("forwarded", "with-provider", None,
                 {"provider": _provider(case), "deadline": shared.deadline_json(due)}),
            ]  # fmt: skip
            await core.commit(case.id, core.events(case.id, case.last.step, actor, now, steps))
        return await self._reload(case.id, actor)

    async def report(
        self, actor: Actor, case_id: str, *, source_wrong: bool, reason: str,
        wrong_since: datetime | None = None,
    ) -> Objection:  # fmt: skip
        """The provider's check: was the source record wrong (and since when)?"""
        core = self._core
        case = await core.visible(actor, case_id)
        core.require(case.party(actor.agency, "provider"), actor, "report on the source record",
                     f"the providing agency {_provider(case)}")  # fmt: skip
        core.require_state(case, "with-provider", step="be reported on by the provider")
        why, now = parse_text(reason, "reason", most=2000), core.now()
        outcome = "source-wrong" if source_wrong else "source-right"
        detail = {
            "by": "provider",
            "outcome": outcome,
            "wrongSince": shared.wrong_since_text(wrong_since, now),
        }
        state = "correcting" if source_wrong else "dismissed"
        events = core.events(case.id, case.last.step, actor, now, [("checked", state, why, detail)])
        await core.commit(case.id, events)
        return await self._reload(case.id, actor)

    async def confirm_correction(
        self, actor: Actor, case_id: str, *, reason: str | None = None
    ) -> Objection:
        """Confirm the source value changed; then notify recipients and supersede vouchers."""
        core = self._core
        case = await core.visible(actor, case_id)
        allowed = case.party(actor.agency, "provider") or core.is_administrator(actor)
        who = f"{_provider(case)} or the platform administrator"
        core.require(allowed, actor, "confirm a correction", who)
        core.require_state(case, "correcting", step="have its correction confirmed")
        ref, name = RecordRef.parse(case.record or ""), case.fields[0]
        current = await self._read(ref, name)
        if (
            current is not ABSENT
            and shared.value_digest(case.value_salt or "", current) == case.value_sha256
        ):
            raise SourceUnchangedError(
                f"{_provider(case)}'s database still holds the value objected to in {case.id} "
                f"({ref} {name}); correct it there, then confirm again."
            )
        why = parse_text(reason, "reason", most=2000) if reason else None
        reported = next(e for e in reversed(case.events) if e.action == "checked")
        steps: Steps = [("corrected", "corrected", why, {"by": "provider", "sourceChanged": True})]
        await self._correct(case, actor, core.now(), steps, reported.detail.get("wrongSince"))
        return await self._reload(case.id, actor)

    async def get(self, actor: Actor, case_id: str) -> Objection:
        """One objection `actor` is a party to (the administrator sees every one)."""
        return self._view(await self._core.visible(actor, case_id), actor)

    async def for_agency(
        self, actor: Actor, *, role: str | None = None, waiting: bool = False
    ) -> list[Objection]:
        """Objections `actor` is party to in `role` (requester, provider; None: either), newest
        first; the administrator's inbox is every objection. `waiting`: only cases waiting for
        a step (filed, with-provider, correcting)."""
        core = self._core
        states = WAITING if waiting else None
        if core.is_administrator(actor) and role is None:
            cases = await core.store.cases("objection", states=states)
        else:
            cases = await core.store.cases("objection", party=actor.agency, states=states)
            if role is not None:
                cases = [c for c in cases if c.party(actor.agency, role)]
        return [self._view(c, actor) for c in cases]

    async def _correct(
        self, case: StoredCase, actor: Actor, now: datetime, steps: Steps, since: str | None
    ) -> None:
        core, at = self._core, shared.stamp(now)
        ref, name = RecordRef.parse(case.record or ""), case.fields[0]
        found = await recipients(core.store.engine, ref, name, since=since, until=at)
        detail = {
            "agencies": [r.agency for r in found.receipts],
            "vouchers": len(found.vouchers),
            "window": {"since": since, "until": at},
        }
        how = "recipients of the old value notified (Art. 22)"
        steps = [*steps, ("notified", "corrected", how, detail)]
        rows = correction_rows(found, objection=case.id, record=ref, field_ref=name, at=at)
        await core.commit(case.id, core.events(case.id, case.last.step, actor, now, steps), rows)

    async def _read(self, ref: RecordRef, name: str) -> object:
        try:
            return await self._read_source(ref, name)
        except WorkflowError:
            raise
        except Exception as error:  # the wiring's reader: any failure means "cannot confirm"
            raise SourceReadError(
                f"Cannot read {ref} {name} from its source ({type(error).__name__}: {error}); "
                "try again when the provider's database is reachable."
            ) from None

    async def _reload(self, case_id: str, actor: Actor) -> Objection:
        case = await self._core.store.case(case_id)
        if case is None:
            raise WorkflowStoreError(f"{case_id} was recorded but cannot be read back.")
        return self._view(case, actor)

    def _view(self, case: StoredCase, actor: Actor) -> Objection:
        if not self._core.is_administrator(actor):
            # Who read a person's value is the audit log's to tell: only the administrator
            # sees the recipients (default deny; the parties see that they were notified).
            case = replace(case, events=tuple(_redacted(e) for e in case.events))
        state, checks = case.last.state, [e for e in case.events if e.action == "checked"]
        notified = next((e for e in case.events if e.action == "notified"), None)
        view = Objection(
            id=case.id, agency=case.agency, officer=case.officer, record=case.record or "",
            field=case.fields[0], reason=case.reason, filed_at=case.filed_at, state=state,
            status=state, provider=_provider(case),
            outcome=checks[-1].detail.get("outcome") if checks else None,
            notified=tuple(notified.detail.get("agencies", ())) if notified else (),
            superseded_vouchers=int(notified.detail.get("vouchers", 0)) if notified else 0,
            history=case.events,
        )  # fmt: skip
        clock = next((e for e in reversed(case.events) if "deadline" in e.detail), None)
        if state not in {"filed", "with-provider", "correcting"} or clock is None:
            return view
        calendar = self._core.calendar
        due = calendar.deadline(shared.parse_stamp(clock.at), CHECK_DAYS)
        remaining = calendar.remaining(due, self._core.now())
        return replace(view, deadline=remaining, status="overdue" if remaining.overdue else state)


def _redacted(event: WorkflowEvent) -> WorkflowEvent:
    if event.action != "notified":
        return event
    return replace(event, detail={"window": event.detail.get("window")})


def _provider(case: StoredCase) -> str:
    return next(a for a, role in case.parties if role == "provider")
