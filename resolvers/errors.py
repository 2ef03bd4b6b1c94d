"""Errors resolvers raise; each carries the `extensions.code` the client sees.

    ResolverError
    ├── InvalidArgumentError   BAD_USER_INPUT (a malformed cursor, an empty filter value...)
    ├── TooComplexError        QUERY_TOO_COMPLEX (a page larger than the cap)
    ├── RateLimitedError       RATE_LIMITED (a verification past a limit; `retryAfter`)
    └── SourceUnavailableError SOURCE_UNAVAILABLE (a base database down or too slow, Art. 20)

Invalid identifiers raise `sources.identifiers.InvalidIdentifierError` (INVALID_IDENTIFIER).
"""

from __future__ import annotations

from typing import Any

from sources.inventory import SOURCES

__all__ = [
    "InvalidArgumentError",
    "RateLimitedError",
    "ResolverError",
    "SourceUnavailableError",
    "TooComplexError",
]


class ResolverError(Exception):
    """Root of errors raised while resolving; `code` goes to `extensions.code`."""

    code = "BAD_USER_INPUT"

    @property
    def extensions(self) -> dict[str, Any]:
        """More members of `extensions` beside the code."""
        return {}


class InvalidArgumentError(ResolverError):
    """An argument the client sent cannot be used; the message says how to fix it."""


class TooComplexError(ResolverError):
    """The query asks for more than the gateway's limits allow."""

    code = "QUERY_TOO_COMPLEX"


class RateLimitedError(ResolverError):
    """A limit refuses this now; `retry_after` seconds from now it may not (Art. 34(4))."""

    def __init__(self, message: str, *, code: str = "RATE_LIMITED", retry_after: int) -> None:
        super().__init__(message)
        self.code = code
        self.retry_after = retry_after

    @property
    def extensions(self) -> dict[str, Any]:
        """`retryAfter`: the seconds to wait."""
        return {"retryAfter": self.retry_after}


class SourceUnavailableError(ResolverError):
    """A base database is down or too slow; the fields it feeds are null (Art. 20)."""

    code = "SOURCE_UNAVAILABLE"

    def __init__(self, source: str, what: str) -> None:
        title = SOURCES[source].title.lower() if source in SOURCES else source
        super().__init__(
            f"The {title} database ({source}) {what}, so its fields are null in this answer; "
            "the rest is complete. Try again shortly; the gateway reconnects by itself."
        )
        self.source = source
