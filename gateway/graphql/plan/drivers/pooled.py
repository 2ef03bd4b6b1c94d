"""Any other source through SQLAlchemy's pool, at the driver level: in-memory SQLite.

The statement text goes to the driver as it is (`exec_driver_sql`: no SQL compilation, no
type processing), on a connection of the source's own engine, so everything the engine sets
on connect holds. An in-memory SQLite database exists only inside the engine's one
connection, which is why it is reached here rather than by `SqliteDriver`'s own connections.
SQLAlchemy announces these statements to the engine's listeners itself.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import DBAPIError

from gateway.graphql.plan.sql import DIALECTS
from resolvers.errors import SourceUnavailableError
from resolvers.fetch import unreachable

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["PooledDriver"]


class PooledDriver:
    """One source reached through its SQLAlchemy engine's pool."""

    def __init__(self, source: str, engine: AsyncEngine) -> None:
        self.source = source
        self.dialect = DIALECTS[
            "mysql" if engine.dialect.name in {"mysql", "mariadb"} else engine.dialect.name
        ]
        self._engine = weakref.ref(engine)

    async def fetch(self, sql: str, params: Sequence[Any], limit: float) -> Sequence[Any]:
        """The rows of one statement within `limit` seconds (connecting included).

        Raises SourceUnavailableError when the source is down or too slow (Art. 20).
        """
        engine = self._engine()
        if engine is None:  # pragma: no cover (the engine outlives its requests)
            raise SourceUnavailableError(self.source, "cannot be reached")
        try:
            async with asyncio.timeout(limit), engine.connect() as connection:
                result = await connection.exec_driver_sql(sql, tuple(params))
                return result.all()
        except TimeoutError:
            raise SourceUnavailableError(
                self.source, f"did not answer within {limit:g} s"
            ) from None
        except OSError as error:
            raise SourceUnavailableError(self.source, "cannot be reached") from error
        except DBAPIError as error:
            if error.connection_invalidated or (error.orig is not None and unreachable(error.orig)):
                raise SourceUnavailableError(self.source, "cannot be reached") from error
            raise

    def dispose(self) -> None:
        """Nothing of its own to close: the engine's pool is the engine's."""
