"""Workflow fixtures: the gateway's database on SQLite and PostgreSQL, a pinned clock, the
shipped policy behind the catalogue seam, and a small real "provider database" for values."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import Column, MetaData, String, Table, select, update

from gateway.trust.audit.store import AuditStore
from gateway.trust.vouchers.store import VoucherStore
from gateway.workflows import ABSENT, PolicyCatalogue, WorkflowStore, WorkingCalendar
from sources.engines import make_engine

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from sqlalchemy.ext.asyncio import AsyncEngine

    from gateway.workflows import RecordRef
    from policies.grants import Policy

#: A Person key that passes GB 11643 (the check digit is right).
PERSON = "Person:11010519491231002X"


@dataclass
class Clock:
    """A clock tests move by hand (UTC)."""

    now: datetime = field(default_factory=lambda: datetime(2026, 9, 30, 2, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def set(self, moment: datetime) -> None:
        self.now = moment

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The gateway's own database (the audit store's URL): SQLite, then a fresh PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'audit.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[WorkflowStore]:
    """The workflow tables, beside a real audit log and voucher tables."""
    audit = AuditStore(db_url)
    await audit.create()
    await audit.close()
    vouchers = VoucherStore(db_url)
    await vouchers.create()
    await vouchers.close()
    found = WorkflowStore(db_url)
    await found.create()
    yield found
    await found.close()


@pytest.fixture
def catalogue(policy: Policy) -> PolicyCatalogue:
    return PolicyCatalogue(policy)


@pytest.fixture
def calendar() -> WorkingCalendar:
    return WorkingCalendar()


_values = MetaData()
#: The provider's base data, reduced to what an objection needs: (record, field) -> value.
source_values = Table(
    "source_values",
    _values,
    Column("record", String(64), primary_key=True),
    Column("field", String(64), primary_key=True),
    Column("value", String(255), nullable=True),
)


class ProviderDatabase:
    """A real SQLite table standing for the provider's database."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def put(self, record: str, field_ref: str, value: str | None) -> None:
        async with self.engine.begin() as connection:
            found = await connection.scalar(
                select(source_values.c.record).where(
                    source_values.c.record == record, source_values.c.field == field_ref
                )
            )
            if found is None:
                await connection.execute(
                    source_values.insert().values(record=record, field=field_ref, value=value)
                )
            else:
                await connection.execute(
                    update(source_values)
                    .where(source_values.c.record == record, source_values.c.field == field_ref)
                    .values(value=value)
                )

    async def read(self, record: RecordRef, field_ref: str) -> object:
        async with self.engine.connect() as connection:
            row = (
                await connection.execute(
                    select(source_values.c.value).where(
                        source_values.c.record == str(record), source_values.c.field == field_ref
                    )
                )
            ).first()
        return ABSENT if row is None else row[0]


@pytest.fixture
async def provider_db(tmp_path: Path) -> AsyncIterator[ProviderDatabase]:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'provider.db'}")
    async with engine.begin() as connection:
        await connection.run_sync(_values.create_all)
    yield ProviderDatabase(engine)
    await engine.dispose()
