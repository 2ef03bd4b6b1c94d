"""Objections (Art. 22): both checks, the correction confirmed at the source, and every earlier
recipient notified with its vouchers superseded; on SQLite and PostgreSQL, with a fixed clock."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select

from gateway.trust.audit.entry import AuditEntry
from gateway.trust.audit.store import AuditStore, audit_log
from gateway.trust.keyring import Keyring
from gateway.trust.vouchers.store import voucher_row, vouchers
from gateway.trust.vouchers.voucher import issue
from gateway.workflows import (
    Actor,
    CaseChangedError,
    CaseNotFoundError,
    InvalidRecordError,
    Objections,
    RecordNotFoundError,
    RecordRef,
    SourceReadError,
    SourceUnchangedError,
    StepNotAllowedError,
    WorkflowInputError,
    WrongStateError,
)
from tests.gateway.workflows.conftest import PERSON

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from gateway.workflows import PolicyCatalogue, WorkflowEvent, WorkflowStore, WorkingCalendar
    from gateway.workflows.types import Row
    from policies.grants import Policy
    from tests.gateway.workflows.conftest import Clock, ProviderDatabase

ADMIN = Actor(agency="GZ-DATA", officer="admin-07")
TIANHE = Actor(agency="TH-CA", officer="clerk-11")
MARRIAGE = Actor(agency="GZ-CA", officer="registrar-3")  # provides Person.maritalStatus
OTHER_PERSON = "Person:110105194912310021"
FIELD = "Person.maritalStatus"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
async def objections(
    store: WorkflowStore,
    catalogue: PolicyCatalogue,
    calendar: WorkingCalendar,
    clock: Clock,
    policy: Policy,
    provider_db: ProviderDatabase,
) -> Objections:
    await provider_db.put(PERSON, FIELD, "married")
    await provider_db.put(OTHER_PERSON, FIELD, "single")

    async def can_read(agency: str, record: RecordRef, field: str) -> bool:
        # What the wiring asks: the policy's grants, then whether the record is there.
        if not policy.grants_for(agency).can("query", field):
            return False
        return await provider_db.read(record, field) is not None

    return Objections(
        store, catalogue, calendar, can_read=can_read, read_source=provider_db.read, clock=clock
    )


async def reads(db_url: str, keys: Path) -> None:
    """The audit log of who received what, with vouchers, as the gateway writes them."""
    keyring = Keyring.open(keys)
    audit = AuditStore(db_url)
    plan = [
        # (at, agency, request, records, fields, voucher?, decision)
        ("2026-08-01T01:00:00.000000Z", "GZ-HEALTH", "r0", [PERSON], [FIELD], True, "allowed"),
        ("2026-09-01T01:00:00.000000Z", "GZ-CA", "r1", [PERSON], [FIELD, "Person.name"], True,
         "allowed"),
        ("2026-09-10T01:00:00.000000Z", "TH-CA", "r2", [OTHER_PERSON, PERSON], [FIELD], True,
         "allowed"),
        ("2026-09-15T01:00:00.000000Z", "GZ-PSB", "r3", [PERSON], ["Person.name"], True,
         "allowed"),
        ("2026-09-16T01:00:00.000000Z", "GZ-TAX", "r4", [OTHER_PERSON], [FIELD], True, "allowed"),
        ("2026-09-20T01:00:00.000000Z", "TH-CA", "r5", [PERSON], [FIELD], False, "allowed"),
        ("2026-09-21T01:00:00.000000Z", "PY-TAX", "r6", [], [], False, "refused"),
    ]  # fmt: skip
    try:
        for at, agency, request, records, fields, voucher, decision in plan:
            extra: list[Row] = []
            issued: tuple[str, ...] = ()
            if voucher:
                v = issue(keyring, agency=agency, request_id=request, datasets=["person-marriage"],
                          data={"person": {}}, issued_at=utc(at[:19]))  # fmt: skip
                extra, issued = [(vouchers, voucher_row(v))], (v.id,)
            entry = AuditEntry(
                at=at, request_id=request, endpoint="/graphql", decision=decision,  # type: ignore[arg-type]
                agency=agency, records=tuple(records), fields=tuple(fields), vouchers=issued,
            )  # fmt: skip
            await audit.append([entry], extra)
    finally:
        await audit.close()


async def voucher_of(store: WorkflowStore, request: str) -> str:
    async with store.engine.connect() as connection:
        return str(
            await connection.scalar(select(vouchers.c.id).where(vouchers.c.request_id == request))
        )


async def test_an_objection_runs_both_checks_and_its_correction_reaches_every_recipient(
    objections: Objections,
    store: WorkflowStore,
    clock: Clock,
    db_url: str,
    tmp_path: Path,
    provider_db: ProviderDatabase,
) -> None:
    await reads(db_url, tmp_path / "keys")
    clock.set(utc("2026-09-30T02:00:00"))  # Wed 10:00 in China, the eve of National Day
    filed = await objections.file(TIANHE, record=PERSON, field=FIELD, reason="divorced in 2026")
    assert (filed.state, filed.provider, filed.record) == ("filed", "GZ-CA", PERSON)
    assert filed.deadline is not None
    assert filed.deadline.deadline.day == date(2026, 10, 10)

    clock.set(utc("2026-10-08T02:00:00"))
    checked = await objections.check(ADMIN, filed.id, technical=False, reason="source data")
    assert (checked.state, checked.outcome) == ("with-provider", "not-technical")
    assert checked.deadline is not None
    assert checked.deadline.deadline.day == date(2026, 10, 12)  # Oct 9, Sat 10, Mon 12

    clock.set(utc("2026-10-09T02:00:00"))
    reported = await objections.report(
        MARRIAGE, filed.id, source_wrong=True, reason="divorce not registered",
        wrong_since=utc("2026-08-15T00:00:00"),
    )  # fmt: skip
    assert (reported.state, reported.outcome) == ("correcting", "source-wrong")

    with pytest.raises(SourceUnchangedError, match="still holds the value objected to"):
        await objections.confirm_correction(MARRIAGE, filed.id)

    await provider_db.put(PERSON, FIELD, "divorced")  # corrected in the provider's database
    clock.set(utc("2026-10-09T03:00:00"))
    confirmed = await objections.confirm_correction(MARRIAGE, filed.id, reason="record fixed")
    assert confirmed.state == confirmed.status == "corrected"
    corrected = await objections.get(ADMIN, filed.id)
    # Received the field since Aug 15: GZ-CA (r1) and TH-CA (r2, r5). Not GZ-HEALTH (before),
    # GZ-PSB (another field), GZ-TAX (another record), PY-TAX (refused).
    assert corrected.notified == ("GZ-CA", "TH-CA")
    assert corrected.superseded_vouchers == 2
    assert [(e.step, e.action, e.state, e.agency) for e in corrected.history] == [
        (1, "filed", "filed", "TH-CA"),
        (2, "checked", "filed", "GZ-DATA"),
        (3, "forwarded", "with-provider", "GZ-DATA"),
        (4, "checked", "correcting", "GZ-CA"),
        (5, "corrected", "corrected", "GZ-CA"),
        (6, "notified", "corrected", "GZ-CA"),
    ]
    notified = corrected.history[-1].detail
    assert notified["window"] == {
        "since": "2026-08-15T00:00:00.000000Z", "until": "2026-10-09T03:00:00.000000Z"
    }  # fmt: skip

    # Who else read this person's value is the audit log's to tell: the requester and the
    # provider see that recipients were notified, not who they were.
    for party in (TIANHE, MARRIAGE):
        seen = await objections.get(party, filed.id)
        assert (seen.state, seen.notified, seen.superseded_vouchers) == ("corrected", (), 0)
        assert "GZ-CA" not in str(seen.history[-1].detail)
        assert seen.history[-1].detail == {"window": notified["window"]}

    tianhe = await store.notifications("TH-CA")
    assert [(n.objection, n.record, n.field, n.requests) for n in tianhe] == [
        (filed.id, PERSON, FIELD, 2)
    ]
    assert (tianhe[0].first_received_at, tianhe[0].last_received_at) == (
        "2026-09-10T01:00:00.000000Z", "2026-09-20T01:00:00.000000Z"
    )  # fmt: skip
    assert await store.notifications("GZ-HEALTH") == []
    assert await store.notifications("GZ-PSB") == []
    for request, superseded in [("r1", True), ("r2", True), ("r0", False), ("r3", False),
                                ("r4", False)]:  # fmt: skip
        expected = (filed.id,) if superseded else ()
        assert await store.superseded_by(await voucher_of(store, request)) == expected, request


async def test_a_technical_cause_is_corrected_by_the_platform_and_notified_at_once(
    objections: Objections, clock: Clock, db_url: str, tmp_path: Path
) -> None:
    await reads(db_url, tmp_path / "keys")
    filed = await objections.file(TIANHE, record=PERSON, field=FIELD, reason="garbled value")
    done = await objections.check(
        ADMIN, filed.id, technical=True, reason="encoding fault in the exchange, fixed",
        wrong_since=utc("2026-09-12T00:00:00"),
    )  # fmt: skip
    assert (done.state, done.outcome) == ("corrected", "technical")
    assert done.notified == ("TH-CA",)  # r5 only: r1 and r2 came before the fault
    assert done.superseded_vouchers == 0  # r5 carried no voucher
    assert [e.action for e in done.history] == ["filed", "checked", "corrected", "notified"]
    assert {e.agency for e in done.history[1:]} == {"GZ-DATA"}


async def test_a_provider_who_finds_the_source_right_dismisses_it_and_nobody_is_notified(
    objections: Objections, store: WorkflowStore, db_url: str, tmp_path: Path
) -> None:
    await reads(db_url, tmp_path / "keys")
    filed = await objections.file(TIANHE, record=PERSON, field=FIELD, reason="looks wrong")
    await objections.check(ADMIN, filed.id, technical=False, reason="not ours")
    dismissed = await objections.report(MARRIAGE, filed.id, source_wrong=False, reason="checked")
    assert (dismissed.state, dismissed.outcome, dismissed.deadline) == (
        "dismissed", "source-right", None
    )  # fmt: skip
    assert await store.notifications("TH-CA") == []
    with pytest.raises(WrongStateError, match="is dismissed"):
        await objections.confirm_correction(MARRIAGE, filed.id)


async def test_an_unchecked_objection_turns_overdue_after_three_working_days(
    objections: Objections, clock: Clock
) -> None:
    clock.set(utc("2026-09-30T02:00:00"))
    filed = await objections.file(TIANHE, record=PERSON, field=FIELD, reason="r")
    clock.set(utc("2026-10-10T15:59:00"))  # 23:59 on the make-up Saturday in China
    waiting = await objections.get(ADMIN, filed.id)
    assert waiting.status == "filed"
    assert waiting.deadline is not None
    assert waiting.deadline.left == 1
    clock.set(utc("2026-10-10T16:00:00"))
    assert (await objections.get(ADMIN, filed.id)).status == "overdue"
    assert [o.status for o in await objections.for_agency(ADMIN)] == ["overdue"]


async def test_a_record_the_agency_cannot_read_is_refused_exactly_as_an_absent_one(
    objections: Objections,
) -> None:
    py_tax = Actor(agency="PY-TAX")  # taxation: not granted maritalStatus
    with pytest.raises(RecordNotFoundError) as unreadable:
        await objections.file(py_tax, record=PERSON, field=FIELD, reason="r")
    with pytest.raises(RecordNotFoundError) as absent:
        await objections.file(py_tax, record="Person:440106199001010013", field=FIELD, reason="r")
    with pytest.raises(RecordNotFoundError) as secret:
        await objections.file(py_tax, record=PERSON, field="Person.classifiedPost", reason="r")
    with pytest.raises(RecordNotFoundError) as readable_but_absent:
        await objections.file(TIANHE, record="Person:440106199001010013", field=FIELD, reason="r")
    assert str(unreadable.value).replace(PERSON[7:], "K") == str(absent.value).replace(
        "440106199001010013", "K"
    )
    assert "with the field Person.classifiedPost" in str(secret.value)
    assert str(readable_but_absent.value).startswith("TH-CA can read no Person 440106199001010013")
    assert await objections.for_agency(py_tax) == []


async def test_malformed_records_and_fields_are_refused_with_what_to_write(
    objections: Objections,
) -> None:
    with pytest.raises(InvalidRecordError, match="check character"):
        await objections.file(TIANHE, record="Person:110105194912310020", field=FIELD, reason="r")
    with pytest.raises(WorkflowInputError, match="Type:key"):
        await objections.file(TIANHE, record="110105194912310021", field=FIELD, reason="r")
    with pytest.raises(WorkflowInputError, match="not a field of Person records"):
        await objections.file(TIANHE, record=PERSON, field="License.kind", reason="r")
    with pytest.raises(WorkflowInputError, match="types are Person"):
        await objections.file(TIANHE, record="Car:1", field=FIELD, reason="r")


async def test_each_check_belongs_to_its_party(objections: Objections) -> None:
    filed = await objections.file(TIANHE, record=PERSON, field=FIELD, reason="r")
    with pytest.raises(StepNotAllowedError, match="only the platform administrator"):
        await objections.check(TIANHE, filed.id, technical=True, reason="self-service")
    with pytest.raises(CaseNotFoundError):
        await objections.check(Actor(agency="GZ-TAX"), filed.id, technical=True, reason="x")
    await objections.check(ADMIN, filed.id, technical=False, reason="source")
    with pytest.raises(StepNotAllowedError, match="only the providing agency GZ-CA"):
        await objections.report(TIANHE, filed.id, source_wrong=True, reason="it is")
    with pytest.raises(WorkflowInputError, match="after now"):
        await objections.report(
            MARRIAGE, filed.id, source_wrong=True, reason="it is",
            wrong_since=utc("2030-01-01T00:00:00"),
        )  # fmt: skip
    with pytest.raises(WrongStateError, match="is with-provider"):
        await objections.check(ADMIN, filed.id, technical=True, reason="again")
    assert [o.id for o in await objections.for_agency(MARRIAGE, role="provider")] == [filed.id]


async def test_a_source_that_cannot_be_read_is_reported_not_taken_for_a_change(
    store: WorkflowStore,
    catalogue: PolicyCatalogue,
    calendar: WorkingCalendar,
    clock: Clock,
    provider_db: ProviderDatabase,
) -> None:
    await provider_db.put(PERSON, FIELD, "married")
    state = {"down": False}

    async def read(record: RecordRef, field: str) -> object:
        if state["down"]:
            raise ConnectionRefusedError("connection refused")
        return await provider_db.read(record, field)

    async def can_read(agency: str, record: RecordRef, field: str) -> bool:
        return True

    objections = Objections(store, catalogue, calendar, can_read=can_read, read_source=read,
                            clock=clock)  # fmt: skip
    filed = await objections.file(TIANHE, record=PERSON, field=FIELD, reason="r")
    await objections.check(ADMIN, filed.id, technical=False, reason="source")
    await objections.report(MARRIAGE, filed.id, source_wrong=True, reason="wrong")
    state["down"] = True
    with pytest.raises(SourceReadError, match=r"ConnectionRefusedError.*try again"):
        await objections.confirm_correction(MARRIAGE, filed.id)
    assert (await objections.get(ADMIN, filed.id)).state == "correcting"


async def test_a_step_and_its_audit_record_commit_together_or_not_at_all(
    store: WorkflowStore,
    catalogue: PolicyCatalogue,
    calendar: WorkingCalendar,
    clock: Clock,
    provider_db: ProviderDatabase,
    db_url: str,
) -> None:
    """The wiring's recorder: the step's rows go into the audit log's own append."""
    await provider_db.put(PERSON, FIELD, "married")
    audit = AuditStore(db_url)

    async def audited(events: Sequence[WorkflowEvent], rows: Sequence[Row]) -> None:
        entries = [
            AuditEntry(at=e.at, request_id=f"{e.case}:{e.step}", endpoint="workflow",
                       decision="allowed", agency=e.agency, reason=e.summary(),
                       flags=(f"workflow:{e.kind}:{e.action}",))
            for e in events
        ]  # fmt: skip
        await audit.append(entries, rows)

    async def can_read(agency: str, record: RecordRef, field: str) -> bool:
        return True

    objections = Objections(
        store, catalogue, calendar, can_read=can_read, read_source=provider_db.read,
        recorder=audited, clock=clock,
    )  # fmt: skip
    try:
        filed = await objections.file(TIANHE, record=PERSON, field=FIELD, reason="r")
        assert await audit.count() == 1
        stale = await store.case(filed.id)
        await objections.check(ADMIN, filed.id, technical=False, reason="source")
        assert await audit.count() == 3  # checked + forwarded
        # A second administrator acting on the case as it was: refused, and nothing audited.
        assert stale is not None
        with pytest.raises(CaseChangedError, match="reload it"):
            await objections._core.commit(  # the race, replayed deterministically
                filed.id,
                objections._core.events(filed.id, stale.last.step, ADMIN, clock(),
                                        [("checked", "corrected", "late", {})]),
            )  # fmt: skip
        assert await audit.count() == 3
        async with store.engine.connect() as connection:
            reasons = (await connection.execute(select(audit_log.c.content))).scalars().all()
        assert any(f"objection {filed.id} step 3 forwarded -> with-provider" in r for r in reasons)
    finally:
        await audit.close()
