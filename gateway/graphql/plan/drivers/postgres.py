"""PostgreSQL at the driver: asyncpg connections of the plan path's own, prepared statements.

Measured on this machine (one look-up by key, CPU of the event loop per statement): through
SQLAlchemy's pool about 90 µs (checkout, reset, adaptation); through asyncpg's own pool 65 µs
(its reset query is a round trip on every release), or 40 µs with the reset skipped; through
`drivers.pool`, 17 µs. Connections are opened with the source's options, as SQLAlchemy opens
them (`sources.engines.postgresql_connect_args`: the server's `statement_timeout`, asyncpg's
`command_timeout` and connect timeout). asyncpg prepares each statement text once per
connection and keeps it (its statement cache), so a plan's statements are prepared statements
from their second use on.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import TYPE_CHECKING, Any

import asyncpg

from gateway.graphql.plan.drivers import events
from gateway.graphql.plan.drivers.pool import Pool
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
        arguments: dict[str, Any] = {**params, **postgresql_connect_args(options)}
        self.source = source
        self._engine = weakref.ref(engine.sync_engine)  # for its listeners (drivers.events)
        self._pool: Pool[asyncpg.Connection] = Pool(
            open=lambda: asyncpg.connect(**arguments),
            closed=lambda connection: bool(connection.is_closed()),
            close=lambda connection: connection.close(timeout=5),
            cut=lambda connection: connection.terminate(),
            keep=options.pool_size,
            most=options.pool_size + options.max_overflow,
        )

    async def fetch(self, sql: str, params: Sequence[Any], limit: float) -> Sequence[Any]:
        """The rows of one statement within `limit` seconds (connecting included).

        Raises SourceUnavailableError when the source is down or too slow (Art. 20); any other
        error (a wrong statement, a broken schema) goes to the caller as it is.
        """
        try:
            async with asyncio.timeout(limit):
                connection = await self._pool.acquire()
                healthy = False
                try:
                    engine = self._engine()
                    context = events.before(engine, sql, params)
                    rows = await connection.fetch(sql, *params)
                    healthy = True
                    events.after(engine, context, sql, params)
                    return rows  # type: ignore[no-any-return]
                finally:
                    self._pool.release(connection, healthy=healthy)
        except TimeoutError:
            raise SourceUnavailableError(
                self.source, f"did not answer within {limit:g} s"
            ) from None
        except Exception as error:
            if unreachable(error):
                raise SourceUnavailableError(self.source, "cannot be reached") from error
            raise

    def dispose(self) -> None:
        """Close every idle connection (the source's engine is being disposed)."""
        self._pool.dispose()
