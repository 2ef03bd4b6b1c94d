"""Sliding windows, as a store checks and counts them: what one admission must pass.

A `Check` is one window: at most `limit` (summed weights, or distinct members) under `key` in
any `seconds`. A store admits a set of checks atomically, for every worker and machine that
shares it: all pass and are counted, or none is counted and the first that refused is named,
with the seconds until it would admit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["Check", "Verdict", "WindowStore"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Check:
    """One sliding window to pass.

    Weight mode (`member` None): the weights counted under `key` in the last `seconds`, plus
    `weight`, may not exceed `limit`. Member mode: the distinct members seen under `key` in the
    last `seconds`, this one included, may not exceed `limit`; the member is counted even when
    refused, so whoever keeps trying new members stays refused (the "many candidates" rule).
    """

    #: The setting this window enforces, e.g. `verifications_per_minute` (messages, metrics).
    name: str
    #: What is counted, e.g. `verifications:GZ-WATER`; windows of one key share its events.
    key: str
    seconds: int
    limit: int
    weight: int = 1
    member: str | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    """The first check that refused (None: all admitted and counted), and the whole seconds
    until it would admit (0 when admitted)."""

    refused: Check | None = None
    retry_after: int = 0


class WindowStore(Protocol):
    """Where windows are counted; shared by every process that must share the limits."""

    async def create(self) -> None:
        """Create the tables if missing."""

    async def admit(self, checks: Sequence[Check], *, now: float) -> Verdict:
        """Pass every check at `now` (Unix seconds) and count it, or count none; atomic."""
