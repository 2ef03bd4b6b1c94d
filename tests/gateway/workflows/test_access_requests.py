"""Access requests (Art. 19) against the shipped policy, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import text, update
from sqlalchemy.exc import DBAPIError

from gateway.workflows import (
    AccessRequests,
    Actor,
    CaseChangedError,
    CaseNotFoundError,
    NotShareableError,
    StepNotAllowedError,
    WorkflowEvent,
    WorkflowInputError,
    WrongStateError,
)
from gateway.workflows.tables import workflow_events

if TYPE_CHECKING:
    from collections.abc import Sequence

    from gateway.workflows import PolicyCatalogue, WorkflowStore, WorkingCalendar
    from gateway.workflows.types import Row
    from tests.gateway.workflows.conftest import Clock

ADMIN = Actor(agency="GZ-DATA", officer="admin-07")
TIANHE = Actor(agency="TH-CA", officer="clerk-11")
PSB = Actor(agency="GZ-PSB", officer="records-02")


@pytest.fixture
def requests(
    store: WorkflowStore, catalogue: PolicyCatalogue, calendar: WorkingCalendar, clock: Clock
) -> AccessRequests:
    return AccessRequests(store, catalogue, calendar, clock=clock)


async def test_an_in_catalogue_request_is_open_at_once_pointing_at_its_entries(
    requests: AccessRequests,
) -> None:
    found = await requests.file(
        TIANHE,
        duty="civil-affairs",
        fields=["Person.maritalStatus", "Person.address"],
        reason="verifying marriage status for subsistence allowance",
    )
    assert found.state == found.status == "open"
    assert found.entries == {
        "Person.address": "catalog:datasets/person-basic/address",
        "Person.maritalStatus": "catalog:datasets/person-marriage/maritalStatus",
    }
    assert found.pending == ()
    assert found.providers == ()
    assert [e.action for e in found.history] == ["filed", "opened"]
    assert found.history[0].officer == "clerk-11"
    assert "Art. 19 para 1" in (found.history[1].reason or "")


async def test_an_earlier_approval_in_the_author_rules_also_opens_at_once(
    requests: AccessRequests,
) -> None:
    # The shipped rules grant TH-CA Person.education until 2026-12-31 (GZ-DATA-2026-117).
    found = await requests.file(
        TIANHE, duty="civil-affairs", fields=["Person.education"], reason="assistance review"
    )
    assert found.state == "open"
    assert found.entries["Person.education"].startswith("rules:guangzhou.rules.csv:")


async def test_a_grant_the_catalogue_gives_but_a_deny_suspends_is_not_reopened(
    requests: AccessRequests,
) -> None:
    # The catalogue shares maritalStatus with housing-provident-fund; a rule denies GZ-HPF.
    found = await requests.file(
        Actor(agency="GZ-HPF"),
        duty="housing-provident-fund",
        fields=["Person.maritalStatus"],
        reason="loan eligibility",
    )
    assert found.state == "filed"
    assert found.pending == ("Person.maritalStatus",)
    assert found.providers == ("GZ-CA",)


async def test_an_out_of_catalogue_request_is_forwarded_decided_and_becomes_rules(
    requests: AccessRequests, clock: Clock
) -> None:
    clock.set(datetime(2026, 9, 28, 1, 0, tzinfo=UTC))
    filed = await requests.file(
        TIANHE,
        duty="civil-affairs",
        fields=["Person.phone", "Person.maritalStatus"],
        reason="contacting applicants of the winter relief programme",
    )
    assert filed.state == "filed"
    assert filed.entries == {
        "Person.maritalStatus": "catalog:datasets/person-marriage/maritalStatus"
    }
    assert (filed.pending, filed.providers) == (("Person.phone",), ("GZ-PSB",))
    assert filed.deadline is None

    clock.advance(hours=3)
    forwarded = await requests.forward(ADMIN, filed.id, reference="GZ-DATA-FWD-2026-031")
    assert (forwarded.state, forwarded.forwarded_reference) == ("forwarded", "GZ-DATA-FWD-2026-031")

    clock.set(datetime(2026, 9, 29, 7, 0, tzinfo=UTC))  # Tue 15:00 in China
    decided = await requests.decide(
        ADMIN, filed.id, approved=True, reference="GZ-GOV-2026-88", until=date(2026, 12, 31)
    )
    assert (decided.state, decided.decision, decided.until) == (
        "approved",
        "approved",
        "2026-12-31",
    )
    assert decided.rules == (
        "p, TH-CA, Person.phone, query, allow, 2026-12-31, approval GZ-GOV-2026-88 access "
        f"request {filed.id} duty civil-affairs",
    )
    # Art. 19 para 2: five working days across National Day end on Mon Oct 12.
    assert decided.deadline is not None
    assert decided.deadline.deadline.day == date(2026, 10, 12)
    assert (decided.deadline.left, decided.deadline.overdue) == (5, False)
    history = decided.history
    assert [(e.step, e.action, e.state, e.agency) for e in history] == [
        (1, "filed", "filed", "TH-CA"),
        (2, "forwarded", "forwarded", "GZ-DATA"),
        (3, "decided", "approved", "GZ-DATA"),
    ]
    assert history[2].detail["deadline"]["day"] == "2026-10-12"
    assert history[2].officer == "admin-07"


async def test_an_approved_case_turns_overdue_after_five_working_days_until_provided(
    requests: AccessRequests, clock: Clock
) -> None:
    case = await _approved(requests, clock)
    clock.set(datetime(2026, 10, 12, 15, 59, tzinfo=UTC))  # 23:59 in China on the last day
    assert (await requests.get(TIANHE, case)).status == "approved"
    clock.set(datetime(2026, 10, 12, 16, 0, tzinfo=UTC))  # midnight: the deadline passed
    late = await requests.get(TIANHE, case)
    assert (late.state, late.status) == ("approved", "overdue")
    assert late.deadline is not None
    assert late.deadline.left == 0

    done = await requests.mark_available(PSB, case, reason="view published")
    assert (done.state, done.status, done.available_from) == ("available", "available", ("GZ-PSB",))
    assert done.deadline is None


async def test_a_refusal_records_its_reasons_and_adds_no_rules(
    requests: AccessRequests, clock: Clock
) -> None:
    filed = await requests.file(TIANHE, duty="civil-affairs", fields=["Person.phone"], reason="r")
    await requests.forward(ADMIN, filed.id, reference="FWD-1")
    with pytest.raises(WorkflowInputError, match="reasons for the refusal is empty"):
        await requests.decide(ADMIN, filed.id, approved=False)
    refused = await requests.decide(
        ADMIN, filed.id, approved=False, reasons="not needed for the duty (Art. 18)"
    )
    assert (refused.state, refused.decision, refused.rules) == ("refused", "refused", ())
    assert refused.history[-1].reason == "not needed for the duty (Art. 18)"
    with pytest.raises(WrongStateError, match="is refused, so it cannot be marked available"):
        await requests.mark_available(PSB, filed.id)


async def test_only_the_administrator_forwards_and_decides_and_only_providers_provide(
    requests: AccessRequests, clock: Clock
) -> None:
    filed = await requests.file(TIANHE, duty="civil-affairs", fields=["Person.phone"], reason="r")
    with pytest.raises(StepNotAllowedError, match="only the platform administrator"):
        await requests.forward(TIANHE, filed.id, reference="MINE")
    with pytest.raises(WrongStateError, match="is filed, so it cannot be decided"):
        await requests.decide(ADMIN, filed.id, approved=True, reference="X")
    case = await _approved(requests, clock)
    with pytest.raises(StepNotAllowedError, match="only the providing agencies GZ-PSB"):
        await requests.mark_available(TIANHE, case)


async def test_a_case_is_invisible_to_agencies_that_are_not_party_to_it(
    requests: AccessRequests,
) -> None:
    filed = await requests.file(TIANHE, duty="civil-affairs", fields=["Person.phone"], reason="r")
    outsider = Actor(agency="PY-TAX")
    with pytest.raises(CaseNotFoundError) as caught:
        await requests.get(outsider, filed.id)
    with pytest.raises(CaseNotFoundError) as absent:
        await requests.get(outsider, "AR-0000000000")
    # The same sentence for a real case and an invented one, but for the id itself.
    assert str(caught.value).replace(filed.id, "ID") == str(absent.value).replace(
        "AR-0000000000", "ID"
    )
    assert [r.id for r in await requests.for_agency(outsider)] == []
    assert [r.id for r in await requests.for_agency(TIANHE)] == [filed.id]
    assert [r.id for r in await requests.for_agency(PSB, role="provider")] == [filed.id]
    assert [r.id for r in await requests.for_agency(PSB, role="requester")] == []
    assert [r.id for r in await requests.for_agency(ADMIN)] == [filed.id]


async def test_bad_requests_are_refused_with_what_to_do(requests: AccessRequests) -> None:
    cases: list[tuple[dict[str, Any], type[Exception], str]] = [
        (
            {"duty": "taxation"},
            WorkflowInputError,
            "does not hold the duty 'taxation'.*civil-affairs",
        ),
        ({"fields": ["Person.nickname"]}, WorkflowInputError, "Person field"),
        ({"fields": ["Person.classifiedPost"]}, NotShareableError, "Art. 16"),
        ({"fields": []}, WorkflowInputError, "Name 1 to 50 fields"),
        ({"reason": "  "}, WorkflowInputError, "reason is empty"),
        ({"reason": "a\u2028b"}, WorkflowInputError, "U\\+2028"),
    ]
    for change, error, message in cases:
        asked: dict[str, Any] = {
            "duty": "civil-affairs", "fields": ["Person.phone"], "reason": "r", **change
        }  # fmt: skip
        with pytest.raises(error, match=message):
            await requests.file(TIANHE, **asked)
    assert await requests.for_agency(TIANHE) == []  # nothing half-filed


async def test_references_are_one_line_without_commas_and_until_is_not_in_the_past(
    requests: AccessRequests, clock: Clock
) -> None:
    filed = await requests.file(TIANHE, duty="civil-affairs", fields=["Person.phone"], reason="r")
    with pytest.raises(WorkflowInputError, match="may not contain commas"):
        await requests.forward(ADMIN, filed.id, reference="GZ, 2026")
    await requests.forward(ADMIN, filed.id, reference="FWD-2")
    with pytest.raises(WorkflowInputError, match="before the decision"):
        await requests.decide(ADMIN, filed.id, approved=True, reference="R", until=date(2026, 9, 1))
    with pytest.raises(WorkflowInputError, match="reference is empty"):
        await requests.decide(ADMIN, filed.id, approved=True)


async def test_two_administrators_deciding_at_once_record_one_decision(
    store: WorkflowStore, catalogue: PolicyCatalogue, calendar: WorkingCalendar, clock: Clock
) -> None:
    gate = asyncio.Event()

    async def slow(events: Sequence[WorkflowEvent], rows: Sequence[Row]) -> None:
        if events[0].action == "decided":
            await gate.wait()  # both have read the case before either writes
        await store.record(events, rows)

    requests = AccessRequests(store, catalogue, calendar, clock=clock, recorder=slow)
    filed = await requests.file(TIANHE, duty="civil-affairs", fields=["Person.phone"], reason="r")
    await requests.forward(ADMIN, filed.id, reference="FWD")
    approve = requests.decide(ADMIN, filed.id, approved=True, reference="YES")
    refuse = requests.decide(ADMIN, filed.id, approved=False, reasons="no")
    tasks = [asyncio.ensure_future(approve), asyncio.ensure_future(refuse)]
    await asyncio.sleep(0.05)
    gate.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert sum(isinstance(r, CaseChangedError) for r in results) == 1
    final = await requests.get(ADMIN, filed.id)
    assert [e.action for e in final.history] == ["filed", "forwarded", "decided"]


async def test_workflow_tables_refuse_rewriting_a_step(
    requests: AccessRequests, store: WorkflowStore
) -> None:
    filed = await requests.file(TIANHE, duty="civil-affairs", fields=["Person.phone"], reason="r")
    with pytest.raises(DBAPIError, match="append-only"):
        async with store.engine.begin() as connection:
            await connection.execute(
                update(workflow_events)
                .where(workflow_events.c.case_id == filed.id)
                .values(state="approved")
            )
    with pytest.raises(DBAPIError, match="append-only"):
        async with store.engine.begin() as connection:
            await connection.execute(text("DELETE FROM workflow_cases"))


async def _approved(requests: AccessRequests, clock: Clock) -> str:
    clock.set(datetime(2026, 9, 29, 7, 0, tzinfo=UTC))
    filed = await requests.file(TIANHE, duty="civil-affairs", fields=["Person.phone"], reason="r")
    await requests.forward(ADMIN, filed.id, reference="FWD")
    await requests.decide(ADMIN, filed.id, approved=True, reference="GZ-GOV-2026-88")
    return filed.id


async def test_the_inbox_lists_only_cases_waiting_for_a_step(
    requests: AccessRequests, clock: Clock
) -> None:
    opened = await requests.file(
        TIANHE, duty="civil-affairs", fields=["Person.address"], reason="r"
    )
    waiting = await requests.file(TIANHE, duty="civil-affairs", fields=["Person.phone"], reason="r")
    approved = await _approved(requests, clock)
    refused = await requests.file(TIANHE, duty="civil-affairs", fields=["Person.phone"], reason="r")
    await requests.forward(ADMIN, refused.id, reference="FWD")
    await requests.decide(ADMIN, refused.id, approved=False, reasons="no")
    inbox = {r.id for r in await requests.for_agency(ADMIN, waiting=True)}
    assert inbox == {waiting.id, approved}
    everything = {r.id for r in await requests.for_agency(ADMIN)}
    assert everything == {opened.id, waiting.id, approved, refused.id}
    provider_inbox = await requests.for_agency(PSB, role="provider", waiting=True)
    assert {r.id for r in provider_inbox} == {waiting.id, approved}
