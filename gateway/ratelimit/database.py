"""Sliding windows in the gateway's own database (the audit store's): shared by every worker
and machine that shares it, which a deployment with one audit store already does.

Events are counted per key and second (`rate_events`); a window sums the seconds inside it, so
it slides with one-second resolution and holds at most one row per second per key, whatever
the traffic. Admissions of one key are serialised across processes by locking the key's row in
`rate_keys` first (the audit log locks its head the same way): on PostgreSQL and MariaDB a row
lock, on SQLite the database's write lock.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from gateway.ratelimit.windows import Check, Verdict

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

__all__ = ["DatabaseWindows", "rate_events", "rate_keys"]

metadata = MetaData()

_SECONDS = BigInteger().with_variant(Integer, "sqlite")

rate_keys = Table(
    "rate_keys",
    metadata,
    Column("key", String(128), primary_key=True),
    Column("touched", _SECONDS, nullable=False),
)

rate_events = Table(
    "rate_events",
    metadata,
    Column("key", String(128), nullable=False),
    #: '' in weight mode; the member (a hash) in member mode.
    Column("member", String(64), nullable=False),
    Column("at", _SECONDS, nullable=False),
    Column("n", Integer, nullable=False),
    PrimaryKeyConstraint("key", "member", "at"),
)

#: Seconds between sweeps of keys nobody used for longer than the longest window seen.
_SWEEP_EVERY = 300
#: Admissions retried when two processes created the same key at once.
_ATTEMPTS = 3


class DatabaseWindows:
    """A `WindowStore` in the database behind `engine`."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._longest = 0
        self._swept = time.monotonic()

    async def create(self) -> None:
        """Create the tables if missing."""
        async with self.engine.begin() as connection:
            await connection.run_sync(metadata.create_all)

    async def admit(self, checks: Sequence[Check], *, now: float) -> Verdict:
        """Pass every check at `now` and count it, or count none (see WindowStore)."""
        if not checks:
            return Verdict()
        second = int(now)
        self._longest = max(self._longest, *(check.seconds for check in checks))
        for attempt in range(_ATTEMPTS):
            try:
                async with self.engine.begin() as connection:
                    verdict = await _admit(connection, checks, second)
                break
            except IntegrityError:  # another process created one of the keys first
                if attempt == _ATTEMPTS - 1:
                    raise
        if time.monotonic() - self._swept > _SWEEP_EVERY:
            self._swept = time.monotonic()
            await self._sweep(second)
        return verdict

    async def _sweep(self, second: int) -> None:
        """Forget keys (subjects, mostly) unused for longer than any window."""
        cutoff = second - self._longest
        async with self.engine.begin() as connection:
            await connection.execute(delete(rate_events).where(rate_events.c.at <= cutoff))
            await connection.execute(delete(rate_keys).where(rate_keys.c.touched <= cutoff))


async def _admit(connection: AsyncConnection, checks: Sequence[Check], second: int) -> Verdict:
    keys = sorted({check.key for check in checks})  # one order everywhere: no deadlocks
    for key in keys:
        await _lock(connection, key, second)
        keep = max(check.seconds for check in checks if check.key == key)
        await connection.execute(
            delete(rate_events).where(rate_events.c.key == key, rate_events.c.at <= second - keep)
        )
    refused: Verdict | None = None
    for check in checks:
        if check.member is None:
            verdict = await _weights(connection, check, second)
        else:
            verdict = await _members(connection, check, second)
        if verdict.refused is not None:
            refused = verdict
            break
    for check in checks:  # members are counted even when refused; weights only on admission
        if check.member is not None:
            await _count_member(connection, check.key, check.member, second)
    if refused is not None:
        return refused
    for key in keys:
        weights = [check.weight for check in checks if check.key == key and check.member is None]
        if weights:
            await _count_weight(connection, key, max(weights), second)
    return Verdict()


async def _lock(connection: AsyncConnection, key: str, second: int) -> None:
    """Lock `key`'s row (creating it): every other admission of the key waits here."""
    result: Any = await connection.execute(
        update(rate_keys).where(rate_keys.c.key == key).values(touched=second)
    )
    if result.rowcount == 0:
        await connection.execute(insert(rate_keys).values(key=key, touched=second))


async def _weights(connection: AsyncConnection, check: Check, second: int) -> Verdict:
    rows = (
        await connection.execute(
            select(rate_events.c.at, rate_events.c.n)
            .where(
                rate_events.c.key == check.key,
                rate_events.c.member == "",
                rate_events.c.at > second - check.seconds,
            )
            .order_by(rate_events.c.at)
        )
    ).all()
    total = sum(int(row.n) for row in rows)
    if total + check.weight <= check.limit:
        return Verdict()
    if check.weight > check.limit:  # never fits: say the whole window
        return Verdict(check, check.seconds)
    for row in rows:  # the oldest seconds leave the window first
        total -= int(row.n)
        if total + check.weight <= check.limit:
            return Verdict(check, max(1, int(row.at) + check.seconds - second))
    return Verdict(check, check.seconds)


async def _members(connection: AsyncConnection, check: Check, second: int) -> Verdict:
    last = func.max(rate_events.c.at).label("last")
    rows = (
        await connection.execute(
            select(rate_events.c.member, last)
            .where(rate_events.c.key == check.key, rate_events.c.at > second - check.seconds)
            .group_by(rate_events.c.member)
            .order_by(last)
        )
    ).all()
    seen = {str(row.member) for row in rows}
    if len(seen | {check.member or ""}) <= check.limit:
        return Verdict()
    # Once this member is counted (at `second`), a new one fits when all but limit - 1 of the
    # members have left the window: the (n - limit + 1)th oldest sets the time.
    times = [int(row.last) for row in rows if row.member != check.member] + [second]
    leave = len(times) - check.limit
    if leave >= len(times):
        return Verdict(check, check.seconds)
    return Verdict(check, max(1, times[leave] + check.seconds - second))


async def _count_member(connection: AsyncConnection, key: str, member: str, second: int) -> None:
    await connection.execute(
        delete(rate_events).where(rate_events.c.key == key, rate_events.c.member == member)
    )
    await connection.execute(insert(rate_events).values(key=key, member=member, at=second, n=1))


async def _count_weight(connection: AsyncConnection, key: str, weight: int, second: int) -> None:
    result: Any = await connection.execute(
        update(rate_events)
        .where(rate_events.c.key == key, rate_events.c.member == "", rate_events.c.at == second)
        .values(n=rate_events.c.n + weight)
    )
    if result.rowcount == 0:
        await connection.execute(
            insert(rate_events).values(key=key, member="", at=second, n=weight)
        )
