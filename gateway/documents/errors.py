"""Why a trusted document (a persisted query) cannot be used.

GatewayError
├── DocumentError             (an operation refused by its document: `code` is registered)
└── DocumentStoreError        (the registered documents cannot be read or written)
"""

from __future__ import annotations

from gateway.codes import CODES
from gateway.errors import GatewayError

__all__ = ["DocumentError", "DocumentStoreError"]


class DocumentError(GatewayError):
    """One operation refused because of its document; `code` is a registered wire code and
    the message says what to send instead. It refuses the operation, not the request: the
    answer carries it as a GraphQL error (so Apollo clients retry with the text)."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        if code not in CODES:  # a typo is a programming error: fail where it is made
            raise KeyError(f"{code} is not a registered wire code (gateway.codes)")
        self.message = message
        self.code = code


class DocumentStoreError(GatewayError):
    """The registered documents cannot be read or written; the message says what to do."""
