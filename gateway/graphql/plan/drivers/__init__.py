"""How plans reach each source: the best driver per database, one per source engine.

    postgres  PostgresDriver  asyncpg connections of its own, prepared statements
    mariadb   MariadbDriver   asyncmy connections of its own
    sqlite    SqliteDriver    sqlite3 connections in worker threads of its own
    pooled    PooledDriver    the engine's SQLAlchemy pool at the driver level (in-memory
                              SQLite, and any other driver an engine may one day use)
    pool      Pool            the connection pool the server drivers share

Every driver has the same call shape (`Driver`): run one statement text with its parameters
within the source's time limit, and raise `SourceUnavailableError` when the source is down or
too slow. A driver lives as long as its engine: disposing of the engine (the gateway's
`close`) closes the driver's own connections and threads.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import event

from gateway.graphql.plan.drivers.mariadb import MariadbDriver
from gateway.graphql.plan.drivers.pooled import PooledDriver
from gateway.graphql.plan.drivers.postgres import PostgresDriver
from gateway.graphql.plan.drivers.sqlite import SqliteDriver
from sources.engines import sqlite_path

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy.engine import Engine
    from sqlalchemy.ext.asyncio import AsyncEngine

    from gateway.graphql.plan.sql import Dialect

__all__ = [
    "Driver",
    "MariadbDriver",
    "PooledDriver",
    "PostgresDriver",
    "SqliteDriver",
    "driver_for",
]


class Driver(Protocol):
    """Runs a plan's statements against one source."""

    @property
    def dialect(self) -> Dialect:
        """How the source spells its SQL."""

    async def fetch(self, sql: str, params: Sequence[Any], limit: float) -> Sequence[Any]:
        """The rows (sequences of column values) of one statement, within `limit` seconds."""

    def dispose(self) -> None:
        """Close what the driver holds of its own."""


_DRIVERS: weakref.WeakKeyDictionary[Engine, Driver] = weakref.WeakKeyDictionary()


def driver_for(source: str, engine: AsyncEngine) -> Driver:
    """The driver of `source`, whose gateway engine is `engine` (made on first use)."""
    sync_engine = engine.sync_engine
    driver = _DRIVERS.get(sync_engine)
    if driver is None:
        driver = _make(source, engine)
        _DRIVERS[sync_engine] = driver
        event.listen(sync_engine, "engine_disposed", _disposer(driver))
    return driver


def _make(source: str, engine: AsyncEngine) -> Driver:
    backend = engine.dialect.name
    if backend == "postgresql" and engine.dialect.driver == "asyncpg":
        return PostgresDriver(source, engine)
    if backend in {"mysql", "mariadb"} and engine.dialect.driver == "asyncmy":
        return MariadbDriver(source, engine)
    if backend == "sqlite" and sqlite_path(engine.url.render_as_string(hide_password=False)):
        return SqliteDriver(source, engine)
    return PooledDriver(source, engine)


def _disposer(driver: Driver) -> Any:
    def dispose(_engine: Engine) -> None:
        driver.dispose()

    return dispose
