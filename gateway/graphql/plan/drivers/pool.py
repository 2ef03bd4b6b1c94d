"""The few lines of pool the plan path's own server connections need, and nothing else.

Sized like the source's SQLAlchemy pool (`SourceOptions`): at most `pool_size + max_overflow`
connections, of which `pool_size` stay open when idle. Plans only read, outside transactions,
so a connection needs no reset between requests (the round trip asyncpg's and SQLAlchemy's
pools spend on every release); one that failed in any way, or was cut off mid-statement, is
closed and never reused.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

__all__ = ["Pool"]

C = TypeVar("C")


class Pool(Generic[C]):
    """Connections of type C, opened by `open`, checked by `closed`, ended by `close` (polite)
    or `cut` (at once, for a connection in an unknown state)."""

    def __init__(
        self,
        *,
        open: Callable[[], Awaitable[C]],  # the verbs: open, closed, close (polite), cut
        closed: Callable[[C], bool],
        close: Callable[[C], Awaitable[None]],
        cut: Callable[[C], None],
        keep: int,
        most: int,
    ) -> None:
        self._open, self._closed, self._close, self._cut = open, closed, close, cut
        self._keep = keep
        self._most = most
        self._idle: list[C] = []
        self._slots = asyncio.Semaphore(most)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing: set[asyncio.Task[None]] = set()

    async def acquire(self) -> C:
        """A connection (an idle one, else a new one), waiting while `most` are in use."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # connections belong to the loop that opened them
            self._idle.clear()
            self._slots = asyncio.Semaphore(self._most)
            self._loop = loop
        await self._slots.acquire()
        try:
            while self._idle:
                connection = self._idle.pop()
                if not self._closed(connection):
                    return connection
            return await self._open()
        except BaseException:
            self._slots.release()
            raise

    def release(self, connection: C, *, healthy: bool) -> None:
        """Give a connection back: kept if healthy and needed, else closed."""
        self._slots.release()
        if not healthy:
            self._cut(connection)
        elif len(self._idle) < self._keep and not self._closed(connection):
            self._idle.append(connection)
        else:  # an overflow connection: closed once returned, as SQLAlchemy's pool does
            task = asyncio.get_running_loop().create_task(self._polite(connection))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    async def _polite(self, connection: C) -> None:
        try:
            await self._close(connection)
        except Exception:  # closing a connection no longer used: cut it instead
            self._cut(connection)

    def dispose(self) -> None:
        """Cut every idle connection (the source's engine is being disposed)."""
        while self._idle:
            self._cut(self._idle.pop())
