"""SQLite at the driver: sqlite3 connections in threads of the plan path's own.

SQLite runs in the calling thread, so an async gateway must hand each statement to another
thread. Measured on this machine (bench/plan_stages.py, one look-up by key): through
SQLAlchemy and aiosqlite a statement costs about 150 µs of CPU (100 µs of it on the event
loop); through `run_in_executor` 45 µs; through the workers below, each with its own sqlite3
connection and a queue, 23 µs (9 µs on the loop). Running sqlite3 on the event loop itself
would cost 10 µs, but a cold page read or a locked file would then stall every request of the
process: not done.

Each source gets `pool_size` workers (threads started on first use), opened with the URL's own
arguments and the source's busy timeout (`connect_timeout_s`), as SQLAlchemy opens them.
sqlite3 keeps a prepared statement per text and connection. SQLite has no statement timeout:
a statement still running at the source's time limit is interrupted (`sqlite3.interrupt`),
and the request gets SOURCE_UNAVAILABLE like any other source that does not answer in time.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
import weakref
from typing import TYPE_CHECKING, Any

from gateway.graphql.plan.drivers import events
from gateway.graphql.plan.sql import DIALECTS
from resolvers.errors import SourceUnavailableError
from resolvers.fetch import unreachable
from sources.engines import options_of

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["SqliteDriver"]


class _Job:
    """One statement handed to a worker, and the future its rows go to."""

    __slots__ = ("cancelled", "connection", "future", "lock", "loop", "params", "sql")

    def __init__(self, sql: str, params: Sequence[Any], loop: asyncio.AbstractEventLoop) -> None:
        self.sql = sql
        self.params = params
        self.loop = loop
        self.future: asyncio.Future[list[Any]] = loop.create_future()
        self.lock = threading.Lock()
        self.connection: sqlite3.Connection | None = None
        self.cancelled = False

    def cancel(self) -> None:
        """Stop the statement if a worker runs it now; drop it if none has taken it yet."""
        with self.lock:
            self.cancelled = True
            if self.connection is not None:
                self.connection.interrupt()

    def settle(self, rows: list[Any] | None, error: BaseException | None) -> None:
        """Called on the loop: hand the outcome to the waiting request (if it still waits)."""
        if self.future.done():
            return
        if error is not None:
            self.future.set_exception(error)
        else:
            self.future.set_result(rows or [])


class SqliteDriver:
    """One SQLite file, read by worker threads with sqlite3 connections of their own."""

    dialect = DIALECTS["sqlite"]

    def __init__(self, source: str, engine: AsyncEngine) -> None:
        options = options_of(engine)
        arguments, keywords = engine.dialect.create_connect_args(engine.url)
        keywords = {**keywords, "timeout": options.connect_timeout_s, "check_same_thread": False}
        opener: Callable[..., sqlite3.Connection] = sqlite3.connect
        self.source = source
        self._engine = weakref.ref(engine.sync_engine)  # for its listeners (drivers.events)
        self._open: Callable[[], sqlite3.Connection] = lambda: opener(*arguments, **keywords)
        self._size = options.pool_size
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._workers: list[threading.Thread] = []
        self._lock = threading.Lock()

    async def fetch(self, sql: str, params: Sequence[Any], limit: float) -> Sequence[Any]:
        """The rows of one statement within `limit` seconds.

        Raises SourceUnavailableError when the file cannot be opened or read, is locked past
        the busy timeout, or the statement runs past `limit` (Art. 20); any other error goes
        to the caller as it is.
        """
        if len(self._workers) < self._size:
            self._start_workers()
        job = _Job(sql, params, asyncio.get_running_loop())
        engine = self._engine()
        context = events.before(engine, sql, params)
        self._jobs.put(job)
        try:
            async with asyncio.timeout(limit):
                rows = await job.future
            events.after(engine, context, sql, params)
            return rows
        except TimeoutError:
            job.cancel()
            raise SourceUnavailableError(
                self.source, f"did not answer within {limit:g} s"
            ) from None
        except asyncio.CancelledError:
            job.cancel()
            raise
        except Exception as error:
            if unreachable(error):
                raise SourceUnavailableError(self.source, "cannot be reached") from error
            raise

    def _start_workers(self) -> None:
        with self._lock:
            while len(self._workers) < self._size:
                worker = threading.Thread(
                    target=self._work, name=f"govgate-plan-{self.source}", daemon=True
                )
                worker.start()
                self._workers.append(worker)

    def _work(self) -> None:
        connection: sqlite3.Connection | None = None
        while True:
            job = self._jobs.get()
            if job is None:  # dispose(): one stop mark per worker
                break
            rows: list[Any] | None = None
            error: BaseException | None = None
            try:
                if connection is None:
                    connection = self._open()
                    connection.execute("PRAGMA foreign_keys=ON")  # as sources.engines sets it
                with job.lock:
                    if job.cancelled:
                        continue
                    job.connection = connection
                try:
                    rows = connection.execute(job.sql, job.params).fetchall()
                finally:
                    with job.lock:
                        job.connection = None
            except Exception as failure:  # handed to the request, which decides what it means
                error = failure
                if connection is not None and not isinstance(failure, sqlite3.OperationalError):
                    connection.close()  # of unknown state: open a fresh one for the next job
                    connection = None
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits for the answer
                job.loop.call_soon_threadsafe(job.settle, rows, error)
        if connection is not None:
            connection.close()

    def dispose(self) -> None:
        """Stop the workers (the source's engine is being disposed); new ones start on use."""
        with self._lock:
            for _ in self._workers:
                self._jobs.put(None)
            self._workers = []
