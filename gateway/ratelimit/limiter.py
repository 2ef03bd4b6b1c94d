"""The gateway's rate limits: which windows apply to a request or a verification, what a
refusal says, and what happens when the windows cannot be counted.

Per request, before anything runs: the agency's request quota and its verification windows,
charged with every verification the request asks for (429 RATE_LIMITED, `Retry-After`). Per
verification, as it runs: the claims tried against one subject; more than the limit refuses the
subject for the agency (RATE_LIMITED with `extensions.retryAfter`) and flags the misuse in the
audit record (Art. 34(4)).

When the store cannot be reached: verification fails closed (RATE_LIMIT_UNAVAILABLE, 503 for a
whole request), because an unlimited verification is the oracle the limits exist to close; the
request quota fails open, because it shares capacity, and refusing everything while the counter
is down would turn its outage into the gateway's.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.exc import SQLAlchemyError

from gateway.errors import WireError
from gateway.ratelimit.windows import Check
from gateway.settings import ConfigError
from resolvers.context import LimitRefusal

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Mapping, Sequence

    from prometheus_client import Counter

    from gateway.ratelimit.windows import Verdict, WindowStore
    from gateway.settings import RateLimits

__all__ = ["STORE_TIMEOUT", "RateLimiter", "Throttle", "retry_after_of"]

log = logging.getLogger("govgate.ratelimit")

#: Seconds a store gets to count an admission before it counts as unreachable.
STORE_TIMEOUT = 2.0
#: Seconds a client is told to wait when the store cannot be reached.
_UNAVAILABLE_RETRY = 30
_STORE_ERRORS = (OSError, TimeoutError, SQLAlchemyError)

_WINDOW_WORDS = {60: "minute", 3600: "hour"}


class Counters(Protocol):
    """The metrics the limiter counts into (gateway.http.metrics.Metrics has them)."""

    @property
    def rate_limited(self) -> Counter:
        """Refusals by a window, by agency and limit."""

    @property
    def misuse(self) -> Counter:
        """Misuse flags written, by agency and rule."""


class Throttle(WireError):
    """A whole request refused by a limit: its code, HTTP status, message and wait.

    Answered with `Retry-After` (and `extensions.retryAfter`) when waiting helps; `limit` names
    the setting that refused it, which the audit record flags (`rate-limited:LIMIT`).
    """

    def __init__(
        self,
        code: str,
        status: int,
        message: str,
        retry_after: int | None = None,
        limit: str | None = None,
    ) -> None:
        extensions: dict[str, object] = {}
        headers: dict[str, str] = {}
        if retry_after is not None:
            extensions["retryAfter"] = retry_after
            headers["Retry-After"] = str(retry_after)
        if limit is not None:
            extensions["limit"] = limit
        flags = (f"rate-limited:{limit}",) if limit is not None else ()
        super().__init__(message, code=code, status=status, extensions=extensions,
                         headers=headers, flags=flags)  # fmt: skip
        self.retry_after = retry_after
        self.limit = limit


class RateLimiter:
    """The deployment's `RateLimits`, counted in `store` by the clock `clock` (Unix seconds)."""

    def __init__(
        self,
        config: RateLimits,
        store: WindowStore,
        metrics: Counters,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.store = store
        self.metrics = metrics
        self.clock = clock

    def check_agencies(self, known: Collection[str]) -> None:
        """Refuse `[rate_limits.agencies.CODE]` for a code not in `known` (the catalogue's): a
        misspelled agency would silently get the deployment's limits instead of its own."""
        unknown = sorted(set(self.config.agencies) - set(known))
        if unknown:
            raise ConfigError(
                f"[rate_limits.agencies.{unknown[0]}] names no agency of the sharing catalogue; "
                f"the agencies are {', '.join(sorted(known))}."
            )

    async def start(self) -> None:
        """Create the store's tables if missing."""
        await self.store.create()

    async def admit_request(self, agency: str, verifications: int) -> Throttle | None:
        """Count a request of `agency` asking for `verifications`; None, or its refusal."""
        limits = self.config.for_agency(agency)
        checks: list[Check] = []
        if limits.requests_per_minute:
            checks.append(Check(name="requests_per_minute", key=f"requests:{agency}",
                                seconds=60, limit=limits.requests_per_minute))  # fmt: skip
        if verifications:
            for name, seconds, limit in (
                ("verifications_per_minute", 60, limits.verifications_per_minute),
                ("verifications_per_hour", 3600, limits.verifications_per_hour),
            ):
                if limit:
                    key = f"verifications:{agency}"
                    checks.append(Check(name=name, key=key, seconds=seconds, limit=limit,
                                        weight=verifications))  # fmt: skip
        if not checks:
            return None
        try:
            verdict = await self._admit(checks)
        except _STORE_ERRORS as error:
            if not verifications:  # the quota fails open (module docstring)
                log.warning("rate limits cannot be counted (%s); request quota not applied", error)
                return None
            log.error("rate limits cannot be counted (%s); verification refused", error)
            return Throttle("RATE_LIMIT_UNAVAILABLE", 503, _unavailable(), _UNAVAILABLE_RETRY)
        check = verdict.refused
        if check is None:
            return None
        self.metrics.rate_limited.labels(agency, check.name).inc()
        what = "requests" if check.name == "requests_per_minute" else "verifications"
        asked = f" (this one asks for {verifications})" if what == "verifications" else ""
        message = (
            f"Agency {agency} has reached its limit of {check.limit} {what} per "
            f"{_WINDOW_WORDS.get(check.seconds, f'{check.seconds} s')}{asked}; try again in "
            f"{verdict.retry_after} s. The platform administrator sets the limit "
            "(rate_limits in the deployment file)."
        )
        return Throttle("RATE_LIMITED", 429, message, verdict.retry_after, check.name)

    async def admit_verification(
        self, agency: str, subject: str, claims: Mapping[str, str]
    ) -> LimitRefusal | None:
        """Count verifying `claims` about `subject` (e.g. `Person:KEY`) for `agency`."""
        limits = self.config.for_agency(agency)
        if not limits.subject_candidates:
            return None
        # The store keeps hashes, not ID numbers or claimed values.
        key = "subject:" + _digest(agency, subject)
        member = _digest(json.dumps(sorted(claims.items()), ensure_ascii=False))
        check = Check(name="subject_candidates", key=key, seconds=limits.subject_window_seconds,
                      limit=limits.subject_candidates, member=member)  # fmt: skip
        try:
            verdict = await self._admit([check])
        except _STORE_ERRORS as error:
            log.error("rate limits cannot be counted (%s); verification refused", error)
            return LimitRefusal(code="RATE_LIMIT_UNAVAILABLE", message=_unavailable(),
                                retry_after=_UNAVAILABLE_RETRY)  # fmt: skip
        if verdict.refused is None:
            return None
        self.metrics.rate_limited.labels(agency, check.name).inc()
        self.metrics.misuse.labels(agency, "verify-candidates").inc()
        message = (
            f"Agency {agency} has tried more than {check.limit} different claims about this "
            f"{subject.partition(':')[0].lower()} within {_hours(check.seconds)}, so verifying "
            f"it is refused for {verdict.retry_after} s. Verification confirms a claim a "
            "citizen made (Art. 24); trying candidates reads the record, which is use beyond "
            "the duty (Art. 34(4)) and has been recorded."
        )
        return LimitRefusal(code="RATE_LIMITED", message=message,
                            retry_after=verdict.retry_after,
                            flags=(f"misuse:verify-candidates:{subject}",))  # fmt: skip

    async def _admit(self, checks: Sequence[Check]) -> Verdict:
        # Shielded: when one verification of an operation is refused, graphql-core cancels its
        # siblings; their admissions still finish (a candidate tried is a candidate counted),
        # never half-way through a transaction.
        return await asyncio.shield(self._admit_in_time(checks))

    async def _admit_in_time(self, checks: Sequence[Check]) -> Verdict:
        async with asyncio.timeout(STORE_TIMEOUT):
            return await self.store.admit(checks, now=self.clock())


def retry_after_of(results: Sequence[Mapping[str, Any]]) -> int | None:
    """The seconds to wait when a rate limit refused every operation of a request (so the
    request as a whole is answered 429), else None."""
    waits = []
    for result in results:
        if result.get("data") is not None:
            return None
        refusals = [
            error.get("extensions", {}).get("retryAfter")
            for error in result.get("errors") or ()
            if error.get("extensions", {}).get("code") == "RATE_LIMITED"
        ]
        if not refusals:
            return None
        waits += [wait for wait in refusals if isinstance(wait, int)]
    return max(waits) if waits else None


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:32]


def _hours(seconds: int) -> str:
    return f"{seconds // 3600} h" if seconds % 3600 == 0 else f"{seconds} s"


def _unavailable() -> str:
    return (
        "The gateway cannot count verifications right now, so it does not run them (an "
        "uncounted verification could be used to guess values); everything else is answered. "
        "Try again shortly."
    )
