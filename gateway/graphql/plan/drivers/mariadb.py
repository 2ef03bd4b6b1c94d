"""MariaDB (and MySQL) at the driver: asyncmy connections of the plan path's own.

Measured on this machine (one look-up by key, CPU of the event loop per statement): through
SQLAlchemy's pool at the driver level (`exec_driver_sql`) about 250 µs; on an asyncmy
connection of its own, 30 µs. Connections are opened as `sources.engines` has SQLAlchemy open
them (`mariadb_connect_args`: connect and read timeouts, utf8mb4; then the session's statement
timeout, `mariadb_statement_timeout`), with autocommit on: plans only read, and a connection
left inside a transaction would keep answering from that transaction's snapshot. asyncmy
fills the parameters in on the client, so there is nothing to prepare on the server.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import TYPE_CHECKING, Any

import asyncmy

from gateway.graphql.plan.drivers import events
from gateway.graphql.plan.drivers.pool import Pool
from gateway.graphql.plan.sql import DIALECTS
from resolvers.errors import SourceUnavailableError
from resolvers.fetch import unreachable
from sources.engines import mariadb_connect_args, mariadb_statement_timeout, options_of

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["MariadbDriver"]


class MariadbDriver:
    """One MariaDB source, reached with asyncmy connections the plan path keeps itself."""

    dialect = DIALECTS["mysql"]

    def __init__(self, source: str, engine: AsyncEngine) -> None:
        options = options_of(engine)
        _, params = engine.dialect.create_connect_args(engine.url)
        arguments: dict[str, Any] = {
            **params, **mariadb_connect_args(engine.url, options), "autocommit": True,
        }  # fmt: skip

        async def connect() -> Any:
            connection = await asyncmy.connect(**arguments)
            try:
                is_mariadb = "mariadb" in connection.get_server_info().lower()
                async with connection.cursor() as cursor:
                    await cursor.execute(mariadb_statement_timeout(is_mariadb, options))
            except BaseException:
                connection.close()
                raise
            return connection

        self.source = source
        self._engine = weakref.ref(engine.sync_engine)  # for its listeners (drivers.events)
        self._pool: Pool[Any] = Pool(
            open=connect,
            closed=lambda connection: not connection.connected,
            close=lambda connection: connection.ensure_closed(),
            cut=lambda connection: connection.close(),
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
                    async with connection.cursor() as cursor:
                        await cursor.execute(sql, tuple(params))
                        rows: Sequence[Any] = await cursor.fetchall()
                    healthy = True
                    events.after(engine, context, sql, params)
                    return rows
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
