"""Errors raised by the gateway layer.

GatewayError
├── AuthenticationError   (a request's bearer token was refused: `reason`, `status`)
└── SigningKeyError       (the local development signing key cannot be read or written)
"""

from __future__ import annotations

from typing import Literal

__all__ = ["AuthenticationError", "AuthenticationReason", "GatewayError", "SigningKeyError"]

#: Why a token was refused: a short, stable token for programs (the message is for people).
AuthenticationReason = Literal[
    "missing_token",
    "malformed_header",
    "malformed_token",
    "unsigned_token",
    "algorithm_not_allowed",
    "unknown_key",
    "bad_signature",
    "expired",
    "not_yet_valid",
    "wrong_issuer",
    "wrong_audience",
    "missing_claim",
    "unknown_agency",
    "keys_unavailable",
    "lifetime_too_long",
    "revoked",
]


class GatewayError(Exception):
    """Root of every error raised by `gateway`."""


class AuthenticationError(GatewayError):
    """A bearer token was refused.

    `reason` is an `AuthenticationReason`; the message is a whole sentence that says what to do
    and never repeats the token. `status` is the HTTP status to answer with: 401, except 503
    when the gateway could not load its signing keys (the token may well be fine).
    """

    def __init__(self, reason: AuthenticationReason, message: str) -> None:
        super().__init__(message)
        self.reason: AuthenticationReason = reason
        self.message = message
        self.status = 503 if reason == "keys_unavailable" else 401


class SigningKeyError(GatewayError):
    """The local development signing key file cannot be read or written."""
