"""Group commit for the audit log: many requests, one transaction, nothing dropped.

A request hands its entry to the writer and waits for the batch that carries it to commit;
while one batch commits, the next gathers. Under load a batch holds many requests and the log
costs one commit per batch, not per request; when idle, a lone request commits at once. A
request is answered only after its record is durable, so a crash loses no record of anything
that was answered (docs/trust.md).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from gateway.errors import GatewayError

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy import Table

    from gateway.audit.entry import AuditEntry
    from gateway.audit.store import AuditStore

__all__ = ["AuditUnavailableError", "AuditWriter", "Extra"]

#: Rows (table, values) to insert in the same transaction as an entry.
Extra = Sequence[tuple["Table", dict[str, Any]]]

log = logging.getLogger("govgate.audit")


class AuditUnavailableError(GatewayError):
    """The audit store could not record the request; the gateway answers 503 instead."""


class AuditWriter:
    """Writes entries to `store` in batches of at most `max_batch`, in submission order."""

    def __init__(self, store: AuditStore, *, max_batch: int = 1_000) -> None:
        self.store = store
        self.max_batch = max_batch
        self._pending: list[tuple[AuditEntry, Extra, asyncio.Future[int]]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        #: Records written, batches committed, and the last batch's commit time (seconds).
        self.written = 0
        self.batches = 0
        self.last_commit_seconds = 0.0
        #: Called after every committed batch with (records, seconds): metrics listen here.
        self.on_commit: Callable[[int, float], None] | None = None

    def start(self) -> None:
        """Start the background task (inside the running event loop)."""
        self._task = asyncio.get_running_loop().create_task(self._run(), name="audit-writer")

    async def record(self, entry: AuditEntry, extra: Extra = ()) -> int:
        """Append `entry` (and its `extra` rows) and wait until committed; its sequence number.

        Raises AuditUnavailableError when the store cannot take it.
        """
        if self._closing or self._task is None:
            raise AuditUnavailableError("The gateway is shutting down; send the request again.")
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._pending.append((entry, extra, future))
        self._wake.set()
        return await future

    async def close(self) -> None:
        """Write everything still pending, then stop."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                batch = self._pending[: self.max_batch]
                del self._pending[: self.max_batch]
                await self._commit(batch)
            if self._closing:
                return

    async def _commit(self, batch: list[tuple[AuditEntry, Extra, asyncio.Future[int]]]) -> None:
        started = time.perf_counter()
        try:
            numbers = await self.store.append(
                [entry for entry, _, _ in batch], [row for _, rows, _ in batch for row in rows]
            )
        except Exception as error:  # any store failure: refuse the request, never drop silently
            log.error("audit store failed to record %d requests: %s", len(batch), error)
            failure = AuditUnavailableError(
                "The audit store cannot record this request, so it was not answered (Art. 28); "
                "try again shortly, and tell the platform administrator if it persists."
            )
            for _, _, future in batch:
                if not future.done():
                    future.set_exception(failure)
            return
        self.last_commit_seconds = time.perf_counter() - started
        self.written += len(batch)
        self.batches += 1
        if self.on_commit is not None:
            self.on_commit(len(batch), self.last_commit_seconds)
        for (_, _, future), number in zip(batch, numbers, strict=True):
            if not future.done():
                future.set_result(number)
