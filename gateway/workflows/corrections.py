"""Corrections reach every recipient (Art. 22): who received a wrong value, and their vouchers.

Given a corrected record's field and the window in which it was wrong, the audit log says which
agencies received it: every allowed request whose `records` hold the record and whose `fields`
hold the field. Each such agency gets one notification; every voucher issued for one of those
requests (the vouchers table's `request_id`) covered the old value and is marked superseded by
the objection (a row in `voucher_supersessions`: vouchers themselves are append-only).

The scan reads only the window (`at` is indexed), lets the database drop records that do not
mention the record and the field (a LIKE on the stored canonical JSON), streams the rest and
checks each exactly. `fields` is per request, not per record, so a request that returned the
record and read the field for another record also counts: notifying one agency too many is the
safe side of the error.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import inspect, select
from sqlalchemy.exc import SQLAlchemyError

from gateway.trust.audit.store import audit_log
from gateway.trust.vouchers.store import vouchers
from gateway.workflows.errors import WorkflowStoreError
from gateway.workflows.tables import voucher_supersessions, workflow_notifications

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from gateway.workflows.refs import RecordRef
    from gateway.workflows.types import Row

__all__ = ["Receipt", "Recipients", "correction_rows", "recipients"]

_BATCH = 500
_REACH = "check that the gateway's database (audit.url) is reachable"


@dataclass(slots=True, kw_only=True)
class Receipt:
    """What one agency received of the wrong value."""

    agency: str
    first_at: str
    last_at: str
    request_ids: set[str] = field(default_factory=set)
    requests: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Recipients:
    """Every agency that received the field in the window, and the vouchers that covered it."""

    receipts: tuple[Receipt, ...]
    #: (voucher id, agency) of every voucher issued for those requests.
    vouchers: tuple[tuple[str, str], ...]
    #: How many audit records the database handed over for the exact check.
    scanned: int


async def recipients(
    engine: AsyncEngine, record: RecordRef, field_ref: str, *, since: str | None, until: str
) -> Recipients:
    """Who received `field_ref` of `record` with `since <= at < until` (None: from the start).

    Raises WorkflowStoreError when the audit log cannot be read: a correction must not pass
    as delivered to nobody because the log was missing.
    """
    ref = str(record)
    statement = (
        select(audit_log.c.at, audit_log.c.agency, audit_log.c.content)
        .where(audit_log.c.decision == "allowed")
        .where(audit_log.c.agency.is_not(None))
        .where(audit_log.c.at < until)
        .where(audit_log.c.content.like(_containing(ref), escape="\\"))
        .where(audit_log.c.content.like(_containing(field_ref), escape="\\"))
        .order_by(audit_log.c.at, audit_log.c.chain, audit_log.c.seq)
        .execution_options(yield_per=1_000)
    )
    if since is not None:
        statement = statement.where(audit_log.c.at >= since)
    found: dict[str, Receipt] = {}
    scanned = 0
    try:
        async with engine.connect() as connection:
            if not await connection.run_sync(lambda c: inspect(c).has_table("audit_log")):
                raise WorkflowStoreError(
                    "The audit log has no table in the gateway's database, so the recipients "
                    "of a correction cannot be found; start the gateway once (it creates it) "
                    "or point audit.url at the database it writes."
                )
            result = await connection.stream(statement)
            async for at, agency, content in result:
                scanned += 1
                entry: dict[str, Any] = json.loads(content)
                if ref not in entry.get("records", ()) or field_ref not in entry.get("fields", ()):
                    continue
                receipt = found.get(agency)
                if receipt is None:
                    receipt = found[agency] = Receipt(agency=agency, first_at=at, last_at=at)
                receipt.last_at = at
                receipt.requests += 1
                receipt.request_ids.add(str(entry.get("requestId")))
            covered = await _vouchers(connection, found) if found else []
    except SQLAlchemyError as error:
        raise WorkflowStoreError(
            f"Cannot read the audit log to find who received {ref} {field_ref} "
            f"({_describe(error)}); {_REACH}, then confirm the correction again."
        ) from None
    receipts = tuple(sorted(found.values(), key=lambda r: r.agency))
    return Recipients(receipts=receipts, vouchers=tuple(covered), scanned=scanned)


def correction_rows(
    found: Recipients, *, objection: str, record: RecordRef, field_ref: str, at: str
) -> list[Row]:
    """One notification per agency and one supersession per voucher, for the step's rows."""
    rows: list[Row] = [
        (workflow_notifications, {
            "id": f"NT-{secrets.token_hex(6).upper()}", "agency": r.agency,
            "objection": objection, "record": str(record), "field": field_ref,
            "first_received_at": r.first_at, "last_received_at": r.last_at,
            "requests": r.requests, "created_at": at,
        })
        for r in found.receipts
    ]  # fmt: skip
    rows += [
        (voucher_supersessions, {"voucher_id": v, "objection": objection, "agency": a, "at": at})
        for v, a in found.vouchers
    ]
    return rows


async def _vouchers(connection: Any, found: dict[str, Receipt]) -> list[tuple[str, str]]:
    if not await connection.run_sync(lambda c: inspect(c).has_table("vouchers")):
        return []  # no voucher was ever issued here
    ids = sorted({i for r in found.values() for i in r.request_ids})
    covered: list[tuple[str, str]] = []
    for start in range(0, len(ids), _BATCH):
        result = await connection.execute(
            select(vouchers.c.id, vouchers.c.agency)
            .where(vouchers.c.request_id.in_(ids[start : start + _BATCH]))
            .order_by(vouchers.c.id)
        )
        covered += [(str(v), str(a)) for v, a in result.all()]
    return covered


def _containing(text: str) -> str:
    """A LIKE pattern matching canonical JSON that holds the string `text` (quoted)."""
    quoted = json.dumps(text, ensure_ascii=False)
    escaped = quoted.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _describe(error: BaseException) -> str:
    original = getattr(error, "orig", None)
    return str(original or error).strip().splitlines()[0]
