"""Access requests (Art. 19): an agency asks for fields it cannot read today, for one duty.

    filed ──(catalogue grants every field to that duty)──> open            (Art. 19 para 1)
    filed ──forward (administrator, reference)──> forwarded
    forwarded ──decide approved (reference, until?)──> approved ──> available (every provider)
    forwarded ──decide refused (reasons)──> refused

An approval yields author rules (`grant_rules`) that the wiring publishes; from the decision,
each providing agency has 5 working days to make the data available (Art. 19 para 2), and an
approved case past that deadline shows as `overdue` (Art. 32, 34(3)).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from gateway.workflows._core import Core, Step, deadline_json, parse_stamp
from gateway.workflows.errors import NotShareableError, WorkflowInputError, WorkflowStoreError
from gateway.workflows.grant_rules import grant_rules
from gateway.workflows.refs import parse_field, parse_text
from gateway.workflows.working_days import CHINA

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from datetime import date, datetime

    from gateway.workflows.store import StoredCase, WorkflowStore
    from gateway.workflows.types import Actor, Catalogue, Clock, Recorder, WorkflowEvent
    from gateway.workflows.working_days import Remaining, WorkingCalendar

__all__ = ["PROVISION_DAYS", "WAITING", "AccessRequest", "AccessRequests"]

#: Art. 19 para 2: the provider supplies within 5 working days of the decision to share.
PROVISION_DAYS = 5
_MOST_FIELDS = 50
#: The states in which a request waits for someone's step (an inbox).
WAITING = ("filed", "forwarded", "approved")


@dataclass(frozen=True, slots=True, kw_only=True)
class AccessRequest:
    """An access request as its parties see it."""

    id: str
    agency: str
    officer: str | None
    duty: str
    fields: tuple[str, ...]
    reason: str
    filed_at: str
    #: open, filed, forwarded, approved, refused, available.
    state: str
    #: `state`, except `overdue` for an approved case past its provision deadline.
    status: str
    #: The fields the catalogue already grants to the duty: field -> the entry that grants it.
    entries: Mapping[str, str]
    #: The fields outside the catalogue: what the case is about.
    pending: tuple[str, ...]
    #: The agencies that provide `pending` (Art. 14) and must make them available.
    providers: tuple[str, ...]
    available_from: tuple[str, ...] = ()
    forwarded_reference: str | None = None
    decision: str | None = None
    decision_reference: str | None = None
    #: The last day of a time-limited grant (YYYY-MM-DD).
    until: str | None = None
    #: The author-rule lines an approval adds to the served policy.
    rules: tuple[str, ...] = ()
    #: The provision deadline and where the case stands against it (approved cases).
    deadline: Remaining | None = None
    history: tuple[WorkflowEvent, ...] = field(default=(), repr=False)


class AccessRequests:
    """Files and moves access requests; every step is recorded with who, when and why."""

    def __init__(
        self,
        store: WorkflowStore,
        catalogue: Catalogue,
        calendar: WorkingCalendar,
        *,
        recorder: Recorder | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._core = Core("access", store, catalogue, calendar, recorder=recorder, clock=clock)

    async def file(
        self, actor: Actor, *, duty: str, fields: Sequence[str], reason: str
    ) -> AccessRequest:
        """File a request; it is `open` at once when the catalogue already grants every field."""
        core, catalogue = self._core, self._core.catalogue
        held = catalogue.duties_of(actor.agency)
        if held is None:
            raise WorkflowInputError(
                f"{actor.agency} is not an agency in the sharing catalogue; only catalogued "
                "agencies can ask for access (Art. 2)."
            )
        if duty not in held:
            listed = ", ".join(held) or "none"
            raise WorkflowInputError(
                f"{actor.agency} does not hold the duty {duty[:64]!r}; access is asked for one "
                f"of its own duties (Art. 18): {listed}."
            )
        if not fields or len(fields) > _MOST_FIELDS:
            raise WorkflowInputError(
                f"Name 1 to {_MOST_FIELDS} fields as Type.field (e.g. Person.phone), not "
                f"{len(fields)}."
            )
        wanted = tuple(sorted({parse_field(f) for f in fields}))
        providers: dict[str, str] = {}
        for ref in wanted:
            facts = catalogue.field_facts(ref)
            if facts is None:
                raise WorkflowInputError(
                    f"{ref} is in no dataset of the sharing catalogue, so no agency provides it "
                    "through the platform; ask its holder to catalogue it first (Art. 7, 14)."
                )
            if not facts.shareable:
                raise NotShareableError(
                    f"{ref} is not shareable (Art. 16 and the catalogue), so no request can open "
                    "it; remove it from the request."
                )
            providers[ref] = facts.provider
        why = parse_text(reason, "reason", most=2000)
        entries = dict(catalogue.granted(actor.agency, duty, wanted))
        pending = tuple(f for f in wanted if f not in entries)
        owed = tuple(sorted({providers[f] for f in pending}))
        case_id, now = core.new_id(), core.now()
        filed = {"entries": entries, "pending": list(pending), "providers": list(owed)}
        steps: list[Step]
        if pending:
            steps = [("filed", "filed", why, filed)]
        else:  # Art. 19 para 1: in-catalogue access is opened at once
            opened = "the catalogue already grants every field to this duty (Art. 19 para 1)"
            steps = [("filed", "filed", why, filed), ("opened", "open", opened, {})]
        parties = [(actor.agency, "requester"), *((p, "provider") for p in owed)]
        values = {"reason": why, "duty": duty, "fields": wanted}
        rows = core.filing_rows(case_id, actor, now, values, parties)
        await core.commit(case_id, core.events(case_id, 0, actor, now, steps), rows)
        return await self._reload(case_id)

    async def forward(
        self, actor: Actor, case_id: str, *, reference: str, reason: str | None = None
    ) -> AccessRequest:
        """The administrator forwards the case to the government, citing its `reference`."""
        core = self._core
        case = await core.visible(actor, case_id)
        core.require(core.is_administrator(actor), actor, "forward a request", "the platform "
                     "administrator")  # fmt: skip
        core.require_state(case, "filed", step="be forwarded")
        ref = parse_text(reference, "reference", most=100, one_line=True)
        why = parse_text(reason, "reason", most=2000) if reason else None
        steps = [("forwarded", "forwarded", why, {"reference": ref})]
        await self._step(case, actor, steps)
        return await self._reload(case.id)

    async def decide(
        self,
        actor: Actor,
        case_id: str,
        *,
        approved: bool,
        reference: str | None = None,
        reasons: str | None = None,
        until: date | None = None,
    ) -> AccessRequest:
        """Record the government's decision: approved (reference, optional `until`) or refused.

        An approval's author rules are in the result's `rules`; the wiring publishes them.
        """
        core = self._core
        case = await core.visible(actor, case_id)
        core.require(core.is_administrator(actor), actor, "record a decision", "the platform "
                     "administrator")  # fmt: skip
        core.require_state(case, "forwarded", step="be decided")
        now = core.now()
        detail: dict[str, Any] = {"decision": "approved" if approved else "refused"}
        if reference is not None or approved:
            detail["reference"] = parse_text(reference or "", "reference", most=100, one_line=True)
        if not approved:
            if until is not None:
                raise WorkflowInputError("A refusal has no until-date; leave it out.")
            why = parse_text(reasons or "", "reasons for the refusal", most=2000)
            await self._step(case, actor, [("decided", "refused", why, detail)], now)
            return await self._reload(case.id)
        today = now.astimezone(CHINA).date()
        if until is not None and until < today:
            raise WorkflowInputError(
                f"The grant would end on {until}, before the decision ({today}); give a later "
                "last day, or none for a grant without an end."
            )
        pending = _filing(case)["pending"]
        lines = grant_rules(
            agency=case.agency,
            duty=case.duty or "",
            fields=pending,
            case_id=case.id,
            reference=detail["reference"],
            until=until,
        )
        deadline = core.calendar.deadline(now, PROVISION_DAYS)
        detail |= {"until": until.isoformat() if until else None, "rules": list(lines),
                   "deadline": deadline_json(deadline)}  # fmt: skip
        note = parse_text(reasons, "reason", most=2000) if reasons else None
        await self._step(case, actor, [("decided", "approved", note, detail)], now)
        return await self._reload(case.id)

    async def mark_available(
        self, actor: Actor, case_id: str, *, reason: str | None = None
    ) -> AccessRequest:
        """A providing agency reports the data available; the case is `available` once all have."""
        core = self._core
        case = await core.visible(actor, case_id)
        core.require(case.party(actor.agency, "provider"), actor, "mark the data available",
                     "the providing agencies " + ", ".join(_filing(case)["providers"]))  # fmt: skip
        core.require_state(case, "approved", step="be marked available")
        done = {e.agency for e in case.events if e.action == "made-available"}
        if actor.agency in done:
            raise WorkflowInputError(
                f"{actor.agency} already marked {case.id} available; nothing more to do."
            )
        owed = set(_filing(case)["providers"])
        state = "available" if owed <= done | {actor.agency} else "approved"
        why = parse_text(reason, "reason", most=2000) if reason else None
        await self._step(case, actor, [("made-available", state, why, {})])
        return await self._reload(case.id)

    async def get(self, actor: Actor, case_id: str) -> AccessRequest:
        """One request `actor` is a party to (the administrator sees every one)."""
        return self._view(await self._core.visible(actor, case_id))

    async def for_agency(
        self, actor: Actor, *, role: str | None = None, waiting: bool = False
    ) -> list[AccessRequest]:
        """Requests `actor` is party to in `role` (requester, provider; None: either), newest
        first; the administrator's inbox is every request. `waiting`: only cases waiting for a
        step (filed, forwarded, approved)."""
        core = self._core
        states = WAITING if waiting else None
        if core.is_administrator(actor) and role is None:
            cases = await core.store.cases("access", states=states)
        else:
            cases = await core.store.cases("access", party=actor.agency, states=states)
            if role is not None:
                cases = [c for c in cases if c.party(actor.agency, role)]
        return [self._view(c) for c in cases]

    async def _step(
        self,
        case: StoredCase,
        actor: Actor,
        steps: Sequence[Step],
        at: datetime | None = None,
    ) -> None:
        core = self._core
        events = core.events(case.id, case.last.step, actor, at or core.now(), steps)
        await core.commit(case.id, events)

    async def _reload(self, case_id: str) -> AccessRequest:
        case = await self._core.store.case(case_id)
        if case is None:  # the recorder returned without writing: say so rather than guess
            raise WorkflowStoreError(f"{case_id} was recorded but cannot be read back.")
        return self._view(case)

    def _view(self, case: StoredCase) -> AccessRequest:
        filing = _filing(case)
        by_action = {e.action: e for e in case.events}
        forwarded, decided = by_action.get("forwarded"), by_action.get("decided")
        state = case.last.state
        view = AccessRequest(
            id=case.id, agency=case.agency, officer=case.officer, duty=case.duty or "",
            fields=case.fields, reason=case.reason, filed_at=case.filed_at, state=state,
            status=state, entries=dict(filing["entries"]), pending=tuple(filing["pending"]),
            providers=tuple(filing["providers"]),
            available_from=tuple(e.agency for e in case.events if e.action == "made-available"),
            forwarded_reference=forwarded.detail.get("reference") if forwarded else None,
            history=case.events,
        )  # fmt: skip
        if decided is None:
            return view
        view = replace(
            view,
            decision=decided.detail["decision"],
            decision_reference=decided.detail.get("reference"),
            until=decided.detail.get("until"),
            rules=tuple(decided.detail.get("rules", ())),
        )
        if state != "approved":
            return view
        calendar = self._core.calendar
        remaining = calendar.remaining(
            calendar.deadline(parse_stamp(decided.at), PROVISION_DAYS), self._core.now()
        )
        return replace(view, deadline=remaining, status="overdue" if remaining.overdue else state)


def _filing(case: StoredCase) -> Mapping[str, Any]:
    return case.events[0].detail
