"""Publishing the signed chain head and checkpoint to the witnesses, in the background (Art. 28).

Every `every` records this process commits, or every `interval_s` seconds when the head moved,
and once more at shutdown, the publisher reads this process's chain head (signed) from the audit
store and adds it to each witness (`gateway.trust.audit.witness`), with the newest checkpoint
this process signed (chain `checkpoint`, its number and digest): every process publishes its
own, so the witnesses hold every chain's heads and the checkpoints that tie them together.
It runs beside the requests, never in their way: a
request waits for its own audit record only, never for a witness. A witness that fails is
logged, counted (`govgate_audit_witness_failures_total`), shown in `/readyz` under `witnesses`
and tried again with the newest head at the next turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gateway.trust.audit.chains import LEGACY_CHAIN
from gateway.trust.audit.witness import MAIN_CHAIN, WitnessedHead

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from gateway.trust.audit.store import AuditStore
    from gateway.trust.audit.witness import Witness

__all__ = ["WitnessPublisher"]

log = logging.getLogger("govgate.audit")


@dataclass(slots=True)
class _State:
    """How publishing to one witness went."""

    published_seq: int = 0
    published_checkpoint: int = 0
    published_at: str | None = None
    failures: int = 0
    error: str | None = None
    prepared: bool = False
    #: The attempt in flight: a slow witness is not asked again, nor holds the others back.
    attempt: asyncio.Task[None] | None = None


class WitnessPublisher:
    """Publishes `store`'s signed head to `witnesses`, every `every` records or `interval_s`
    seconds, each attempt bounded by `timeout_s`.

    `clock()` gives the publication time as audit records write it; `on_result(name, ok, seq)`
    hears of every attempt (metrics).
    """

    def __init__(
        self,
        store: AuditStore,
        witnesses: Sequence[Witness],
        *,
        every: int,
        interval_s: float,
        timeout_s: float,
        clock: Callable[[], str],
        on_result: Callable[[str, bool, int], None] | None = None,
    ) -> None:
        self.store = store
        self.witnesses = tuple(witnesses)
        self.every = every
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self.clock = clock
        self.on_result = on_result
        self.by = f"{socket.gethostname()}:{os.getpid()}"
        self._states = {w.name: _State() for w in self.witnesses}
        self._since = 0
        self._head_seq = 0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start publishing (inside the running event loop); nothing when there is no witness."""
        if self.witnesses:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="audit-witness")

    def committed(self, records: int) -> None:
        """This process committed `records` more records (the writer's commit hook): cheap."""
        self._since += records
        if self._since >= self.every:
            self._wake.set()

    async def close(self) -> None:
        """Stop, then publish the final head once (bounded by the time limit) and let go."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
            await self.wait()  # attempts in flight end within their time limit
            await self.publish()
            await self.wait()
        for witness in self.witnesses:
            with contextlib.suppress(Exception):
                await witness.close()

    def status(self) -> dict[str, dict[str, Any]]:
        """Each witness's state, for `/readyz`: ok, the last head published, how far behind."""
        return {
            name: {
                "ok": state.error is None,
                "publishedSeq": state.published_seq,
                "publishedAt": state.published_at,
                "behindRecords": max(self._head_seq - state.published_seq, 0),
                "failures": state.failures,
                "error": state.error,
            }
            for name, state in self._states.items()
        }

    async def publish(self) -> None:
        """Start publishing the current head to every witness that lacks it (each in a task of
        its own, so one slow witness holds no other back); never raises."""
        try:
            async with asyncio.timeout(self.timeout_s):
                signed = await self.store.signed_head()
        except Exception as error:  # the audit store: requests will say so; keep going
            log.warning("audit witness: cannot read the chain head to publish it: %s", error)
            return
        if signed is None or signed.seq == 0:
            return
        self._head_seq = max(self._head_seq, signed.seq)
        at = self.clock()
        head = WitnessedHead(
            seq=signed.seq, hash=signed.hash, key_id=signed.key_id, signature=signed.signature,
            published_at=at, published_by=self.by,
            chain=MAIN_CHAIN if signed.chain == LEGACY_CHAIN else str(signed.chain),
        )  # fmt: skip
        made = self.store.last_checkpoint
        checkpoint = (
            WitnessedHead(
                seq=made.id,
                hash=made.digest,
                key_id=made.key_id,
                signature=made.signature,
                published_at=at,
                published_by=self.by,
                chain="checkpoint",
            )
            if made is not None
            else None
        )
        loop = asyncio.get_running_loop()
        for witness in self.witnesses:
            state = self._states[witness.name]
            if state.attempt and not state.attempt.done():
                continue
            due = [] if state.published_seq == head.seq else [head]
            if checkpoint is not None and state.published_checkpoint != checkpoint.seq:
                due.append(checkpoint)
            if due:
                state.attempt = loop.create_task(self._publish_to(witness, due))

    async def wait(self) -> None:
        """Wait for the attempts in flight (each ends within the time limit)."""
        attempts = [s.attempt for s in self._states.values() if s.attempt is not None]
        await asyncio.gather(*attempts, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.interval_s)
            self._wake.clear()
            self._since = 0
            await self.publish()

    async def _publish_to(self, witness: Witness, due: list[WitnessedHead]) -> None:
        state = self._states[witness.name]
        head = due[0]
        try:
            async with asyncio.timeout(self.timeout_s):
                if not state.prepared:
                    await witness.prepare()
                    state.prepared = True
                for item in due:
                    await witness.publish(item)
                    if item.chain == "checkpoint":
                        state.published_checkpoint = item.seq
                    else:
                        state.published_seq, state.published_at = item.seq, item.published_at
        except Exception as error:  # any failure of any witness: logged and counted, never raised
            message = _describe(error, self.timeout_s)
            if state.error != message:
                log.warning(
                    "audit witness %s: cannot publish the head of record %d: %s; retrying with "
                    "the newest head (requests are not affected)",
                    witness.name, head.seq, message,
                )  # fmt: skip
            state.failures += 1
            state.error = message
            if self.on_result is not None:
                self.on_result(witness.name, False, state.published_seq)
            return
        if state.error is not None:
            log.info("audit witness %s: publishing again (record %d)", witness.name, head.seq)
        state.error = None
        if self.on_result is not None:
            self.on_result(witness.name, True, state.published_seq)


def _describe(error: BaseException, timeout_s: float) -> str:
    if isinstance(error, TimeoutError):
        return f"no answer within {timeout_s:g} s"
    original = getattr(error, "orig", None)
    text = str(original or error).strip().splitlines()
    return f"{type(original or error).__name__}: {text[0]}" if text else type(error).__name__
