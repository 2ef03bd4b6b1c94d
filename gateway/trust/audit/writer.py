"""Group commit for the audit log: many requests, one transaction, nothing dropped.

A request hands its entry to the writer and waits for the batch that carries it to commit;
while one batch commits, the next gathers. Under load a batch holds many requests and the log
costs one commit per batch, not per request; when idle, a lone request commits at once. A
request is answered only after its record is durable, so a crash loses no record of anything
that was answered (docs/trust.md).

The store appends to this writer's own chain; every `checkpoint_interval_s` while records are
written (and once at close), the writer signs a checkpoint over the heads of every chain that
moved (`AuditStore.checkpoint`), off the request path.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError

from gateway.errors import GatewayError
from gateway.tracing import span
from gateway.trust.audit.encoding import Encoded, encode, stand_in

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy import Table

    from gateway.trust.audit.entry import AuditEntry
    from gateway.trust.audit.store import AuditStore

    _Batch = list[tuple[Encoded, "Extra", asyncio.Future[int]]]

__all__ = ["AuditUnavailableError", "AuditWriter", "Extra"]

#: Rows (table, values) to insert in the same transaction as an entry.
Extra = Sequence[tuple["Table", dict[str, Any]]]

log = logging.getLogger("govgate.audit")


class AuditUnavailableError(GatewayError):
    """The audit store could not record the request; the gateway answers 503 instead."""


class AuditWriter:
    """Writes entries to `store` in batches of at most `max_batch`, in submission order."""

    def __init__(
        self, store: AuditStore, *, max_batch: int = 1_000, checkpoint_interval_s: float = 1.0
    ) -> None:
        self.store = store
        self.max_batch = max_batch
        self.checkpoint_interval_s = checkpoint_interval_s
        self._checkpointer: asyncio.Task[None] | None = None
        self._since_checkpoint = 0
        #: Checkpoints written, and the failures to write one (logged; retried next turn).
        self.checkpoints = 0
        self.checkpoint_failures = 0
        self._pending: _Batch = []
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
        loop = asyncio.get_running_loop()
        self._task = loop.create_task(self._run(), name="audit-writer")
        self._checkpointer = loop.create_task(self._checkpoints(), name="audit-checkpoints")

    async def record(self, entry: AuditEntry, extra: Extra = ()) -> int:
        """Append `entry` (and its `extra` rows) and wait until committed; its sequence number.

        Raises AuditUnavailableError when the store cannot take it.
        """
        if self._closing or self._task is None:
            raise AuditUnavailableError("The gateway is shutting down; send the request again.")
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        # Encoded now, alone: a record that cannot be encoded is repaired (or stood in for)
        # before it can share a transaction with anyone else's.
        encoded = encode(entry)
        if encoded.withheld:
            log.error("audit record of request %s cannot be encoded; a stand-in records it",
                      encoded.entry.request_id)  # fmt: skip
            extra = ()
        self._pending.append((encoded, extra, future))
        self._wake.set()
        with span("audit.commit"):  # the wait for this record's group commit (audit.batch)
            number = await future
        if encoded.withheld:
            raise _unavailable()
        return number

    async def close(self) -> None:
        """Write everything still pending, then stop."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
        if self._checkpointer is not None:
            self._checkpointer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._checkpointer
            self._checkpointer = None
            await self.checkpoint()  # the final heads, once every record is written

    async def checkpoint(self) -> None:
        """Sign a checkpoint if records were written since the last one; never raises."""
        if self._since_checkpoint == 0:
            return
        written = self._since_checkpoint
        try:
            await self.store.checkpoint()
        except Exception as error:  # requests are not affected: logged, retried next turn
            self.checkpoint_failures += 1
            log.warning("audit checkpoint failed (retried in %g s): %s",
                        self.checkpoint_interval_s, error)  # fmt: skip
            return
        self._since_checkpoint -= written
        self.checkpoints += 1

    async def _checkpoints(self) -> None:
        while True:
            await asyncio.sleep(self.checkpoint_interval_s)
            await self.checkpoint()

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

    async def _commit(self, batch: _Batch) -> None:
        # Splitting a batch of n costs at most about 2 log2(n) failed attempts per bad record;
        # past this budget whatever is left fails (a fault that no split will cure).
        budget = [4 * math.ceil(math.log2(len(batch) + 1)) + 4]
        with span("audit.batch", {"audit.batch_size": len(batch)}, root=True):  # a trace of its own
            await self._attempt(batch, budget)

    async def _attempt(self, batch: _Batch, budget: list[int]) -> None:
        started = time.perf_counter()
        try:
            numbers = await self.store.append(
                [encoded for encoded, _, _ in batch], [row for _, rows, _ in batch for row in rows]
            )
        except Exception as error:  # any store failure: refuse the request, never drop silently
            budget[0] -= 1
            if _outage(error) or budget[0] < 0:
                log.error("audit store failed to record %d requests: %s", len(batch), error)
                _fail(batch)
            elif len(batch) > 1:  # isolate the record that fails: the others must commit
                middle = len(batch) // 2
                await self._attempt(batch[:middle], budget)
                await self._attempt(batch[middle:], budget)
            else:
                await self._stand_in(batch[0], error, budget)
            return
        self._committed(batch, numbers, time.perf_counter() - started)

    async def _stand_in(
        self, item: tuple[Encoded, Extra, asyncio.Future[int]], error: Exception, budget: list[int]
    ) -> None:
        """The store refused this record alone: record a stand-in for its request instead."""
        encoded, _, future = item
        log.error("audit store refused the record of request %s (%s); a stand-in records it",
                  encoded.entry.request_id, type(error).__name__)  # fmt: skip
        substitute = stand_in(encoded.entry, f"the audit store refused it: {type(error).__name__}")
        started = time.perf_counter()
        try:
            numbers = await self.store.append([substitute])
        except Exception as second:
            budget[0] -= 1
            log.error("audit store refused the stand-in of request %s too: %s",
                      encoded.entry.request_id, second)  # fmt: skip
            _fail([item])
            return
        self._committed([], [], time.perf_counter() - started, extra_records=len(numbers))
        if not future.done():
            future.set_exception(_unavailable())

    def _committed(
        self, batch: _Batch, numbers: list[int], seconds: float, *, extra_records: int = 0
    ) -> None:
        self.last_commit_seconds = seconds
        records = len(batch) + extra_records
        self.written += records
        self._since_checkpoint += records
        self.batches += 1
        if self.on_commit is not None:
            self.on_commit(records, seconds)
        for (_, _, future), number in zip(batch, numbers, strict=True):
            if not future.done():
                future.set_result(number)


def _unavailable() -> AuditUnavailableError:
    return AuditUnavailableError(
        "The audit store cannot record this request, so it was not answered (Art. 28); "
        "try again shortly, and tell the platform administrator if it persists."
    )


def _fail(batch: _Batch) -> None:
    for _, _, future in batch:
        if not future.done():
            future.set_exception(_unavailable())


def _outage(error: Exception) -> bool:
    """Whether `error` says the store is out (every record would fail), not one record bad."""
    return isinstance(
        error,
        OperationalError | InterfaceError | DisconnectionError | OSError | TimeoutError,
    )
