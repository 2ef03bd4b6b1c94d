"""Per-source pool sizes and timeouts (`SourceOptions`), applied per database, on real servers."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from contextlib import asynccontextmanager, closing, suppress
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.pool import AsyncAdaptedQueuePool, StaticPool

from sources import SourceOptions
from sources.engines import make_engine, parse_source_urls
from sources.errors import SourceConfigError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"pool_size": 0}, "pool_size must be 1 or more, not 0"),
        ({"max_overflow": -1}, "max_overflow must be 0 or more, not -1"),
        ({"statement_timeout_ms": -5}, r"statement_timeout_ms must be 0 \(no limit\) or more"),
        ({"connect_timeout_s": 0}, "connect_timeout_s must be more than 0 seconds, not 0"),
    ],
)
def test_impossible_source_options_are_refused_with_a_reason(
    changes: dict[str, float], message: str
) -> None:
    with pytest.raises(SourceConfigError, match=message):
        SourceOptions(**changes)  # type: ignore[arg-type]


def test_a_source_url_with_a_driver_govgate_does_not_configure_is_refused() -> None:
    message = r"cannot connect to mysql\+aiomysql:// URLs; .* mysql\+asyncmy://"
    with pytest.raises(SourceConfigError, match=message):
        parse_source_urls(["entities=mysql+aiomysql://root@127.0.0.1/db"])
    with pytest.raises(SourceConfigError, match=r"postgresql\+asyncpg://"):
        make_engine("postgresql://postgres@127.0.0.1/test")


def test_the_pool_has_the_configured_size(tmp_path: Path) -> None:
    engine = make_engine(
        f"sqlite+aiosqlite:///{tmp_path / 'x.db'}", options=SourceOptions(pool_size=3)
    )
    assert isinstance(engine.pool, AsyncAdaptedQueuePool)
    assert engine.pool.size() == 3
    # An in-memory database is one connection; the sizes do not apply and are not passed.
    assert isinstance(make_engine("sqlite+aiosqlite://").pool, StaticPool)


def test_sqlite_waits_for_a_locked_file_only_as_long_as_the_connect_timeout(
    tmp_path: Path,
) -> None:
    path = tmp_path / "locked.db"
    with closing(sqlite3.connect(path, isolation_level=None)) as holder:
        holder.execute("CREATE TABLE t (x INTEGER)")
        holder.execute("BEGIN IMMEDIATE")  # another writer holds the lock throughout

        async def write() -> tuple[float, str]:
            engine = make_engine(
                f"sqlite+aiosqlite:///{path}", options=SourceOptions(connect_timeout_s=0.3)
            )
            started = time.perf_counter()
            try:
                async with engine.begin() as connection:
                    await connection.execute(text("INSERT INTO t VALUES (1)"))
            except OperationalError as error:
                return time.perf_counter() - started, str(error.orig)
            finally:
                await engine.dispose()
            pytest.fail("the write went through a held lock")

        waited, message = asyncio.run(write())
    assert message == "database is locked"
    assert 0.25 < waited < 2


@pytest.mark.postgres
def test_a_statement_past_its_timeout_is_cancelled_on_postgresql(postgres_url: str) -> None:
    async def sleep_past_the_timeout() -> tuple[float, str, object]:
        engine = make_engine(postgres_url, options=SourceOptions(statement_timeout_ms=500))
        try:
            started = time.perf_counter()
            try:
                async with engine.connect() as connection:
                    await connection.execute(text("SELECT pg_sleep(3)"))
            except DBAPIError as error:
                elapsed, message = time.perf_counter() - started, str(error.orig)
            else:
                pytest.fail("SELECT pg_sleep(3) ran to the end despite a 500 ms statement timeout")
            async with engine.connect() as connection:  # the pool still answers afterwards
                setting = (await connection.execute(text("SHOW statement_timeout"))).scalar()
            return elapsed, message, setting
        finally:
            await engine.dispose()

    elapsed, message, setting = asyncio.run(sleep_past_the_timeout())
    assert elapsed < 1.5
    # The server cancelled it, not the client's backstop a second later.
    assert "canceling statement due to statement timeout" in message
    assert setting == "500ms"


@asynccontextmanager
async def _silent_server() -> AsyncIterator[int]:
    """A TCP port that accepts connections and never says a word, like a hung server."""
    release = asyncio.Event()
    held: set[asyncio.Task[None]] = set()

    async def hold(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.add(asyncio.current_task())  # type: ignore[arg-type]
        await release.wait()
        writer.close()
        with suppress(ConnectionError):
            await writer.wait_closed()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        release.set()
        server.close()
        await server.wait_closed()
        await asyncio.gather(*held)


@pytest.mark.parametrize(
    ("scheme", "options", "limit"),
    [
        # asyncpg's timeout bounds the whole set-up, handshake included.
        ("postgresql+asyncpg", SourceOptions(connect_timeout_s=0.5), 1.5),
        # asyncmy's connect timeout bounds opening the socket; the handshake is bounded by the
        # read backstop, statement timeout plus a second.
        ("mysql+asyncmy", SourceOptions(statement_timeout_ms=500), 2.5),
    ],
)
def test_a_server_that_never_answers_fails_the_connection_in_bounded_time(
    scheme: str, options: SourceOptions, limit: float
) -> None:
    async def connect() -> float:
        async with _silent_server() as port:
            engine = make_engine(f"{scheme}://nobody@127.0.0.1:{port}/db", options=options)
            started = time.perf_counter()
            try:
                async with engine.connect():
                    pass
            except (DBAPIError, TimeoutError):
                return time.perf_counter() - started
            finally:
                await engine.dispose()
        pytest.fail("a connection to a silent server succeeded")

    assert asyncio.run(connect()) < limit
