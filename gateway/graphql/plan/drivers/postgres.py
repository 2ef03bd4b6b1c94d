"""PostgreSQL at the driver: asyncpg connections of the plan path's own, prepared statements.

Measured on this machine (bench/plan_stages.py, one look-up by key): a statement through
SQLAlchemy's pool costs about 90 µs of the event loop's CPU (checkout, reset, adaptation),
through asyncpg's own pool 65 µs (its reset query is a round trip on every release) or 40 µs
with the reset skipped; through the few lines of pool below, 17 µs. The pool keeps what
asyncpg needs and nothing else: connections opened with the source's options (the server's
`statement_timeout`, asyncpg's `command_timeout` and connect timeout, from
`sources.engines.postgresql_connect_args`), at most `pool_size + max_overflow` of them, of
which `pool_size` stay open when idle. Statements run outside transactions (plans only
read), so a connection needs no reset between requests; one that failed in any way is closed,
never reused. asyncpg prepares each statement text once per connection and keeps it (its
statement cache), so a plan's statements are prepared statements from their second use on.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import TYPE_CHECKING, Any

import asyncpg

from gateway.graphql.plan.drivers import events
from gateway.graphql.plan.sql import DIALECTS
from resolvers.errors import SourceUnavailableError
from resolvers.fetch import unreachable
from sources.engines import options_of, postgresql_connect_args

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["PostgresDriver"]


class PostgresDriver:
    """One PostgreSQL source, reached with asyncpg connections the plan path keeps itself."""

    dialect = DIALECTS["postgresql"]

    def __init__(self, source: str, engine: AsyncEngine) -> None:
        options = options_of(engine)
        _, params = engine.dialect.create_connect_args(engine.url)
        # SQLAlchemy's own adapter options are not asyncpg's.
        for adapter_only in ("prepared_statement_cache_size", "prepared_statement_name_func"):
            params.pop(adapter_only, None)
        self.source = source
        self._engine = weakref.ref(engine.sync_engine)  # for its listeners (drivers.events)
        self._connect_args: dict[str, Any] = {**params, **postgresql_connect_args(options)}
        self._keep = options.pool_size
        self._most = options.pool_size + options.max_overflow
        self._slots = asyncio.Semaphore(self._most)
        self._idle: list[asyncpg.Connection] = []
        self._closing: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    async def fetch(self, sql: str, params: Sequence[Any], limit: float) -> Sequence[Any]:
        """The rows of one statement within `limit` seconds (connecting included).

        Raises SourceUnavailableError when the source is down or too slow (Art. 20); any other
        error (a wrong statement, a broken schema) goes to the caller as it is.
        """
        connection: asyncpg.Connection | None = None
        healthy = False
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # connections belong to the loop that opened them
            self._idle.clear()
            self._slots = asyncio.Semaphore(self._most)
            self._loop = loop
        try:
            async with asyncio.timeout(limit):
                await self._slots.acquire()
                try:
                    connection = await self._connection()
                    engine = self._engine()
                    context = events.before(engine, sql, params)
                    rows = await connection.fetch(sql, *params)
                    healthy = True
                    events.after(engine, context, sql, params)
                    return rows  # type: ignore[no-any-return]
                finally:
                    self._release(connection, healthy)
        except TimeoutError:
            raise SourceUnavailableError(
                self.source, f"did not answer within {limit:g} s"
            ) from None
        except Exception as error:
            if unreachable(error):
                raise SourceUnavailableError(self.source, "cannot be reached") from error
            raise

    async def _connection(self) -> asyncpg.Connection:
        while self._idle:
            connection = self._idle.pop()
            if not connection.is_closed():
                return connection
        return await asyncpg.connect(**self._connect_args)

    def _release(self, connection: asyncpg.Connection | None, healthy: bool) -> None:
        self._slots.release()
        if connection is None:
            return
        if not healthy:
            # Cut off mid-statement or failed: its state is unknown, so it is never reused.
            connection.terminate()
        elif len(self._idle) < self._keep and not connection.is_closed():
            self._idle.append(connection)
        else:  # an overflow connection: closed once returned, as SQLAlchemy's pool does
            task = asyncio.get_running_loop().create_task(self._close(connection))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    @staticmethod
    async def _close(connection: asyncpg.Connection) -> None:
        try:
            await connection.close(timeout=5)
        except Exception:  # closing a connection no longer used: cut it instead
            connection.terminate()

    def dispose(self) -> None:
        """Close every idle connection (the source's engine is being disposed)."""
        while self._idle:
            self._idle.pop().terminate()
