"""The workflow tables, in the gateway's own database (the audit store's URL).

Every table is append-only (triggers refuse UPDATE and DELETE, as for the audit log and the
vouchers, Art. 28): a case is its filing row plus one event row per step, and its state is
that of its newest event. Two steps racing on one case both want the next step number; the
primary key (case_id, step) lets exactly one in.

    workflow_cases          id, kind, filed_at, agency, officer, reason, duty, fields,
                            record, value_salt, value_sha256
    workflow_parties        case_id, agency, role (requester | provider)
    workflow_events         case_id, step, kind, action, state, at, agency, officer, reason,
                            detail (JSON)
    workflow_notifications  id, agency, objection, record, field, first_received_at,
                            last_received_at, requests, created_at
    voucher_supersessions   voucher_id, objection, agency, at

What is stored about people, and why: an objection's record (`Type:key`, e.g. an ID number)
and field, because the provider must find the record and the gateway must find who received
it (the audit log holds the same key already); never the disputed value, only a salted
SHA-256 of it (`value_salt`, `value_sha256`) to confirm later that the source changed. Reasons
are the agencies' own words, kept as given (the console asks them not to quote values).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from sqlalchemy import Column, Index, Integer, MetaData, String, Table, Text

if TYPE_CHECKING:
    from gateway.workflows.types import Row, WorkflowEvent

__all__ = [
    "TABLES",
    "event_row",
    "metadata",
    "voucher_supersessions",
    "workflow_cases",
    "workflow_events",
    "workflow_notifications",
    "workflow_parties",
]

metadata = MetaData()

workflow_cases = Table(
    "workflow_cases",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("filed_at", String(32), nullable=False),
    Column("agency", String(64), nullable=False),
    Column("officer", String(255), nullable=True),
    Column("reason", Text, nullable=False),
    Column("duty", String(64), nullable=True),
    #: JSON array of `Type.field`: the fields asked for (access), the field disputed (objection).
    Column("fields", Text, nullable=False),
    Column("record", String(255), nullable=True),
    Column("value_salt", String(32), nullable=True),
    Column("value_sha256", String(64), nullable=True),
    Index("ix_workflow_cases_kind_filed", "kind", "filed_at"),
)

workflow_parties = Table(
    "workflow_parties",
    metadata,
    Column("case_id", String(16), primary_key=True),
    Column("agency", String(64), primary_key=True),
    Column("role", String(16), primary_key=True),
    Index("ix_workflow_parties_agency", "agency"),
)

workflow_events = Table(
    "workflow_events",
    metadata,
    Column("case_id", String(16), primary_key=True),
    Column("step", Integer, primary_key=True, autoincrement=False),
    Column("kind", String(16), nullable=False),
    Column("action", String(32), nullable=False),
    Column("state", String(32), nullable=False),
    Column("at", String(32), nullable=False),
    Column("agency", String(64), nullable=False),
    Column("officer", String(255), nullable=True),
    Column("reason", Text, nullable=True),
    Column("detail", Text, nullable=False),
)

workflow_notifications = Table(
    "workflow_notifications",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("agency", String(64), nullable=False),
    Column("objection", String(16), nullable=False),
    Column("record", String(255), nullable=False),
    Column("field", String(128), nullable=False),
    Column("first_received_at", String(32), nullable=False),
    Column("last_received_at", String(32), nullable=False),
    Column("requests", Integer, nullable=False),
    Column("created_at", String(32), nullable=False),
    Index("ix_workflow_notifications_agency", "agency", "created_at"),
)

voucher_supersessions = Table(
    "voucher_supersessions",
    metadata,
    Column("voucher_id", String(64), primary_key=True),
    Column("objection", String(16), primary_key=True),
    Column("agency", String(64), nullable=False),
    Column("at", String(32), nullable=False),
)

TABLES = (
    workflow_cases,
    workflow_parties,
    workflow_events,
    workflow_notifications,
    voucher_supersessions,
)


def event_row(event: WorkflowEvent) -> Row:
    """The `workflow_events` row of `event`."""
    values: dict[str, Any] = {
        "case_id": event.case,
        "step": event.step,
        "kind": event.kind,
        "action": event.action,
        "state": event.state,
        "at": event.at,
        "agency": event.agency,
        "officer": event.officer,
        "reason": event.reason,
        "detail": json.dumps(dict(event.detail), ensure_ascii=False, sort_keys=True),
    }
    return workflow_events, values
