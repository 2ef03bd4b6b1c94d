"""Finding who received a corrected value: bounded by its window, exact, and cheap."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from gateway.trust.audit.entry import AuditEntry
from gateway.trust.audit.store import AuditStore
from gateway.workflows import RecordRef, WorkflowStore, WorkflowStoreError, recipients
from tests.gateway.workflows.conftest import PERSON

if TYPE_CHECKING:
    from pathlib import Path

FIELD = "Person.maritalStatus"
REF = RecordRef.parse(PERSON)


def read(at: str, agency: str, request: str, records: list[str], fields: list[str]) -> AuditEntry:
    return AuditEntry(
        at=at, request_id=request, endpoint="/graphql", decision="allowed", agency=agency,
        records=tuple(records), fields=tuple(fields),
    )  # fmt: skip


async def test_the_database_hands_over_only_records_that_mention_the_record_and_field(
    store: WorkflowStore, db_url: str
) -> None:
    audit = AuditStore(db_url)
    noise = [
        read(f"2026-09-0{1 + n % 9}T00:00:{n % 60:02d}.{n:06d}Z", "GZ-TAX", f"n{n}",
             [f"Person:1101051949123{n:05d}"], [FIELD, "Person.name"])
        for n in range(3_000)
    ]  # fmt: skip
    hits = [
        read("2026-09-05T08:00:00.000000Z", "TH-CA", "h1", [PERSON], [FIELD]),
        read("2026-09-06T08:00:00.000000Z", "TH-CA", "h2", [PERSON], [FIELD]),
        read("2026-09-07T08:00:00.000000Z", "GZ-CA", "h3", ["Person:X", PERSON], [FIELD]),
        # Mentions both, but the field was refused, not read: handed over, checked, not counted.
        AuditEntry(at="2026-09-08T08:00:00.000000Z", request_id="h4", endpoint="/graphql",
                   decision="allowed", agency="GZ-PSB", records=(PERSON,),
                   fields=("Person.name",), refused_fields=(FIELD,)),
    ]  # fmt: skip
    try:
        await audit.append(noise + hits)
    finally:
        await audit.close()
    found = await recipients(
        store.engine, REF, FIELD, since="2026-09-01T00:00:00.000000Z",
        until="2026-10-01T00:00:00.000000Z",
    )  # fmt: skip
    assert found.scanned == 4  # not 3,004: the LIKE filter runs in the database
    assert [(r.agency, r.requests, sorted(r.request_ids)) for r in found.receipts] == [
        ("GZ-CA", 1, ["h3"]),
        ("TH-CA", 2, ["h1", "h2"]),
    ]
    assert found.vouchers == ()


async def test_the_window_includes_its_start_and_excludes_its_end(
    store: WorkflowStore, db_url: str
) -> None:
    audit = AuditStore(db_url)
    try:
        await audit.append([
            read("2026-09-01T00:00:00.000000Z", "GZ-CA", "start", [PERSON], [FIELD]),
            read("2026-09-01T12:00:00.000000Z", "TH-CA", "inside", [PERSON], [FIELD]),
            read("2026-09-02T00:00:00.000000Z", "GZ-TAX", "end", [PERSON], [FIELD]),
        ])  # fmt: skip
    finally:
        await audit.close()
    found = await recipients(
        store.engine, REF, FIELD, since="2026-09-01T00:00:00.000000Z",
        until="2026-09-02T00:00:00.000000Z",
    )  # fmt: skip
    assert [r.agency for r in found.receipts] == ["GZ-CA", "TH-CA"]
    everything = await recipients(store.engine, REF, FIELD, since=None, until="2027-01-01")
    assert [r.agency for r in everything.receipts] == ["GZ-CA", "GZ-TAX", "TH-CA"]


async def test_a_database_without_an_audit_log_is_an_error_not_an_empty_answer(
    tmp_path: Path,
) -> None:
    bare = WorkflowStore(f"sqlite+aiosqlite:///{tmp_path / 'bare.db'}")
    await bare.create()
    try:
        with pytest.raises(WorkflowStoreError, match="audit log has no table"):
            await recipients(bare.engine, REF, FIELD, since=None, until="2027-01-01")
    finally:
        await bare.close()
