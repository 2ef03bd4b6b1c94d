"""Follow a table of the gateway's database across processes: its newest row, as it is written.

The published policy (gateway.policy.sync) and revoked tokens (gateway.identity.revocation) are
followed this way: on PostgreSQL the writing transaction sends `NOTIFY <channel>` and every
process LISTENs on a dedicated connection (a poll every few seconds covers a dropped one); on
SQLite (one machine) each process polls the newest id every second.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["Followed", "Follower"]

log = logging.getLogger("govgate.policy")


class Followed(Protocol):
    """A table in the gateway's database whose rows every process follows (newest id)."""

    @property
    def engine(self) -> AsyncEngine:
        """The gateway's database."""

    async def latest_id(self) -> int:
        """The newest row's id (0 when none)."""


class Follower:
    """Calls `on_publish(id)` whenever a row newer than the last one seen is published.

    `channel` is the NOTIFY channel the table's writers send on (PostgreSQL).
    """

    #: Seconds between polls: SQLite always; PostgreSQL only as a safety net under LISTEN.
    POLL_SQLITE = 1.0
    POLL_POSTGRESQL = 5.0

    def __init__(
        self,
        store: Followed,
        url: str,
        on_publish: Callable[[int], Awaitable[None]],
        *,
        channel: str,
    ) -> None:
        self.store = store
        self.url = url
        self.on_publish = on_publish
        self.channel = channel
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start following (inside the running event loop)."""
        name = f"follower-{self.channel}"
        self._task = asyncio.get_running_loop().create_task(self._run(), name=name)

    async def close(self) -> None:
        """Stop following."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        postgres = self.store.engine.dialect.name == "postgresql"
        while True:
            try:
                if postgres:
                    await self._listen()
                else:
                    await asyncio.sleep(self.POLL_SQLITE)
                    await self._check()
            except (OSError, TimeoutError, SQLAlchemyError) as error:
                log.warning("%s follower: %s; retrying in a second", self.channel, error)
                await asyncio.sleep(1.0)
            except Exception as error:  # asyncpg's own errors: keep following, never die
                log.warning("%s follower: %s; retrying in a second", self.channel, error)
                await asyncio.sleep(1.0)

    async def _check(self) -> None:
        latest = await self.store.latest_id()
        if latest:
            await self.on_publish(latest)

    async def _listen(self) -> None:
        import asyncpg  # noqa: PLC0415 (only PostgreSQL stores need it)

        dsn = make_url(self.url).set(drivername="postgresql").render_as_string(hide_password=False)
        connection = await asyncpg.connect(dsn, timeout=5)
        heard = asyncio.Event()

        def notified(*_: Any) -> None:
            heard.set()

        try:
            await connection.add_listener(self.channel, notified)
            await self._check()  # anything published while we were not listening
            while not connection.is_closed():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(heard.wait(), timeout=self.POLL_POSTGRESQL)
                heard.clear()
                await self._check()
        finally:
            with contextlib.suppress(Exception):
                await connection.close(timeout=2)
