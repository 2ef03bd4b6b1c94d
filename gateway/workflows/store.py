"""Reading and writing the workflow tables (`gateway.workflows.tables`).

`WorkflowStore.record` is the recorder used when no audit log is wired in (tests, tools): it
inserts a step's rows in one transaction. The gateway passes a recorder that inserts the same
rows inside the audit log's append instead (docs/workflows.md, "Wiring").
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from gateway.trust.audit.schema import ensure_tables
from gateway.workflows.errors import WorkflowStoreError
from gateway.workflows.tables import (
    TABLES,
    metadata,
    voucher_supersessions,
    workflow_cases,
    workflow_events,
    workflow_notifications,
    workflow_parties,
)
from gateway.workflows.types import WorkflowEvent
from sources.engines import make_engine

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from sqlalchemy import Table
    from sqlalchemy.ext.asyncio import AsyncEngine

    from gateway.workflows.types import CaseKind, Row

__all__ = ["Notification", "StoredCase", "WorkflowStore"]

_REACH = "check that the gateway's database (audit.url) is reachable and writable"
#: Case ids per IN list: well under every dialect's bound-parameter limit.
_BATCH = 500


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredCase:
    """A case as stored: its filing row, its parties and every step so far."""

    id: str
    kind: CaseKind
    filed_at: str
    agency: str
    officer: str | None
    reason: str
    duty: str | None
    fields: tuple[str, ...]
    record: str | None
    value_salt: str | None
    value_sha256: str | None
    parties: tuple[tuple[str, str], ...]
    events: tuple[WorkflowEvent, ...]

    @property
    def last(self) -> WorkflowEvent:
        """The newest step (a stored case always has its filing step)."""
        return self.events[-1]

    def party(self, agency: str, role: str) -> bool:
        """Whether `agency` is a party to the case in `role` (requester, provider)."""
        return (agency, role) in self.parties


@dataclass(frozen=True, slots=True, kw_only=True)
class Notification:
    """A correction an agency received the old value of (Art. 22)."""

    id: str
    agency: str
    objection: str
    record: str
    field: str
    first_received_at: str
    last_received_at: str
    requests: int
    created_at: str


class WorkflowStore:
    """The workflow tables in the gateway's database at `url` (SQLite or PostgreSQL)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: AsyncEngine = make_engine(url)

    @property
    def _where(self) -> str:
        return make_url(self.url).render_as_string(hide_password=True)

    async def create(self) -> None:
        """Create the workflow tables and their append-only triggers if missing."""
        try:
            async with self.engine.begin() as connection:
                # No DDL when they exist: the gateway's append-only role runs none (init-roles).
                await ensure_tables(connection, metadata, [table.name for table in TABLES])
        except (SQLAlchemyError, OSError) as error:
            raise WorkflowStoreError(
                f"Cannot create the workflow tables in {self._where} ({_describe(error)}); "
                f"{_REACH}."
            ) from None

    async def close(self) -> None:
        """Release the connections."""
        await self.engine.dispose()

    async def record(self, events: Sequence[WorkflowEvent], rows: Sequence[Row]) -> None:
        """Insert `rows` in one transaction (the recorder without an audit log).

        IntegrityError passes through: the core reports it as a case changed meanwhile.
        """
        del events  # recorded by their rows; an audit recorder also appends them to the log
        by_table: dict[Table, list[dict[str, Any]]] = {}
        for table, values in rows:
            by_table.setdefault(table, []).append(values)
        try:
            async with self.engine.begin() as connection:
                for table, many in by_table.items():
                    await connection.execute(table.insert(), many)
        except IntegrityError:
            raise
        except (SQLAlchemyError, OSError) as error:
            raise WorkflowStoreError(
                f"Cannot record the step in {self._where} ({_describe(error)}); {_REACH}."
            ) from None

    async def case(self, case_id: str) -> StoredCase | None:
        """The case with this id, or None."""
        found = await self._cases(select(workflow_cases).where(workflow_cases.c.id == case_id))
        return found[0] if found else None

    async def cases(
        self,
        kind: CaseKind,
        *,
        party: str | None = None,
        states: Sequence[str] | None = None,
        newest: int = 500,
    ) -> list[StoredCase]:
        """The newest `newest` cases of `kind`, newest first; only those `party` is party to,
        and only those now in one of `states` (None: any)."""
        statement = select(workflow_cases).where(workflow_cases.c.kind == kind)
        if states is not None:
            statement = statement.where(workflow_cases.c.id.in_(_in_states(states)))
        if party is not None:
            statement = statement.where(
                workflow_cases.c.id.in_(
                    select(workflow_parties.c.case_id).where(workflow_parties.c.agency == party)
                )
            )
        statement = statement.order_by(
            workflow_cases.c.filed_at.desc(), workflow_cases.c.id.desc()
        ).limit(newest)
        return await self._cases(statement)

    async def notifications(self, agency: str, *, newest: int = 500) -> list[Notification]:
        """The corrections `agency` was notified of, newest first."""
        statement = (
            select(workflow_notifications)
            .where(workflow_notifications.c.agency == agency)
            .order_by(workflow_notifications.c.created_at.desc(), workflow_notifications.c.id)
            .limit(newest)
        )
        rows = await self._read(statement)
        return [Notification(**row) for row in rows]

    async def superseded_by(self, voucher_id: str) -> tuple[str, ...]:
        """The objections whose corrections supersede voucher `voucher_id`, oldest first."""
        statement = (
            select(voucher_supersessions.c.objection)
            .where(voucher_supersessions.c.voucher_id == voucher_id)
            .order_by(voucher_supersessions.c.at, voucher_supersessions.c.objection)
        )
        return tuple(str(row["objection"]) for row in await self._read(statement))

    async def _cases(self, statement: Any) -> list[StoredCase]:
        rows = await self._read(statement)
        ids = [str(row["id"]) for row in rows]
        events: dict[str, list[WorkflowEvent]] = {i: [] for i in ids}
        parties: dict[str, list[tuple[str, str]]] = {i: [] for i in ids}
        for batch in _batches(ids):
            for row in await self._read(
                select(workflow_events)
                .where(workflow_events.c.case_id.in_(batch))
                .order_by(workflow_events.c.case_id, workflow_events.c.step)
            ):
                events[str(row["case_id"])].append(_event(row))
            for row in await self._read(
                select(workflow_parties).where(workflow_parties.c.case_id.in_(batch))
            ):
                parties[str(row["case_id"])].append((str(row["agency"]), str(row["role"])))
        return [
            StoredCase(
                id=str(row["id"]),
                kind=row["kind"],
                filed_at=str(row["filed_at"]),
                agency=str(row["agency"]),
                officer=row["officer"],
                reason=str(row["reason"]),
                duty=row["duty"],
                fields=tuple(json.loads(str(row["fields"]))),
                record=row["record"],
                value_salt=row["value_salt"],
                value_sha256=row["value_sha256"],
                parties=tuple(sorted(parties[str(row["id"])])),
                events=tuple(events[str(row["id"])]),
            )
            for row in rows
            if events[str(row["id"])]  # a filing row without its step was never recorded
        ]

    async def _read(self, statement: Any) -> list[dict[str, Any]]:
        try:
            async with self.engine.connect() as connection:
                result = await connection.execute(statement)
                return [dict(row) for row in result.mappings()]
        except (SQLAlchemyError, OSError) as error:
            raise WorkflowStoreError(
                f"Cannot read the workflow tables in {self._where} ({_describe(error)}); "
                f"{_REACH}, and that the gateway has created them."
            ) from None


def _in_states(states: Sequence[str]) -> Any:
    """The ids of cases whose newest step left them in one of `states`."""
    events = workflow_events.c
    latest = (
        select(events.case_id, func.max(events.step).label("step"))
        .group_by(events.case_id)
        .subquery()
    )
    return (
        select(events.case_id)
        .join(latest, and_(events.case_id == latest.c.case_id, events.step == latest.c.step))
        .where(events.state.in_(list(states)))
    )


def _event(row: dict[str, Any]) -> WorkflowEvent:
    return WorkflowEvent(
        case=str(row["case_id"]),
        kind=row["kind"],
        step=int(row["step"]),
        action=str(row["action"]),
        state=str(row["state"]),
        at=str(row["at"]),
        agency=str(row["agency"]),
        officer=row["officer"],
        reason=row["reason"],
        detail=json.loads(str(row["detail"])),
    )


def _batches(ids: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(ids), _BATCH):
        yield ids[start : start + _BATCH]


def _describe(error: BaseException) -> str:
    """The driver's own words for a database error, without the SQL statement."""
    original = getattr(error, "orig", None)
    return str(original or error).strip().splitlines()[0]
