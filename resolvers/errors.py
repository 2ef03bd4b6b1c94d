"""Errors resolvers raise; each carries the `extensions.code` the client sees.

    ResolverError
    ├── InvalidArgumentError   BAD_USER_INPUT (a malformed cursor, an empty filter value...)
    └── TooComplexError        QUERY_TOO_COMPLEX (a page larger than the cap)

Invalid identifiers raise `sources.identifiers.InvalidIdentifierError` (INVALID_IDENTIFIER).
"""

from __future__ import annotations

__all__ = ["InvalidArgumentError", "ResolverError", "TooComplexError"]


class ResolverError(Exception):
    """Root of errors raised while resolving; `code` goes to `extensions.code`."""

    code = "BAD_USER_INPUT"


class InvalidArgumentError(ResolverError):
    """An argument the client sent cannot be used; the message says how to fix it."""


class TooComplexError(ResolverError):
    """The query asks for more than the gateway's limits allow."""

    code = "QUERY_TOO_COMPLEX"
