"""The root of every error `gateway` raises, the errors that carry their wire form, and the tree.

GatewayError                          (gateway.errors)
├── WireError                         (answered as a whole: code, status, message, extensions)
│   ├── AuthenticationError           (a bearer token was refused: `reason`; 401, 503)
│   ├── BodyError                     (gateway.http.body: the body cannot be used)
│   │   ├── BodyTooLargeError
│   │   ├── NotJsonError
│   │   └── InvalidTextError
│   └── Throttle                      (gateway.ratelimit.limiter: a limit refused the request)
├── SigningKeyError                   (the local development signing key cannot be read/written)
├── ConfigError                       (gateway.settings: the deployment file cannot be used)
├── ApprovalRequiredError             (gateway.policy.history: a reduction without approval)
├── VoucherError                      (gateway.trust.errors: vouchers and the signing keys)
│   ├── KeyringError
│   ├── VoucherFormatError
│   └── VoucherStoreError
├── AuditUnavailableError             (gateway.trust.audit.writer: a record cannot be written)
├── AuditLayoutError                  (gateway.trust.audit.store: an older layout this role
│                                      may not upgrade: run `govgate audit init-roles`)
├── ChainConflictError                (gateway.trust.audit.store: a chain's head moved under
│                                      its writer)
├── WitnessError                      (gateway.trust.audit.witness: a witness cannot be used)
├── RoleSetupError                    (gateway.provision.roles: database roles cannot be set up)
├── DocumentError                     (gateway.documents.errors: an operation refused by its
│                                      document: a persisted query unknown, not approved)
├── DocumentStoreError                (gateway.documents.errors: the documents' log cannot be used)
├── TracingUnavailableError           (gateway.tracing: traces on, OpenTelemetry not installed)
└── BackupError                       (gateway.backup.errors: a backup or restore cannot go on)

The workflows' errors (gateway.workflows.errors) have a root of their own, WorkflowError, each
with its registered code, until issue 13 wires them to the API. The other packages have roots of
their own: ResolverError (resolvers.errors), PolicyError (policies.errors), SourceError
(sources.errors; CanonicalFormError, the one canonical form's, is one).
tests/gateway/test_errors.py checks that every GatewayError subclass is drawn here.

A `WireError` is what a client receives when a request is refused as a whole: its `code` is one
of the registry's (gateway.codes), and it carries its HTTP `status`, its `extensions` members
and its `headers`, as authlib's error classes do; gateway.http.responses writes it out, so no
endpoint builds an error body by hand.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from gateway.codes import CODES

__all__ = [
    "REALM",
    "AuthenticationError",
    "AuthenticationReason",
    "GatewayError",
    "SigningKeyError",
    "WireError",
]

#: The realm of the gateway's `WWW-Authenticate` challenges (RFC 6750).
REALM = "govgate"

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


class WireError(GatewayError):
    """A request refused as a whole, with its wire form.

    `code` is registered in gateway.codes (a typo fails at once); `status` defaults to the
    registry's; `extensions` are further members of the error's `extensions`; `headers` go on
    the answer; `members` are further top-level members of the body (a reload's `removed`);
    `flags` are what the audit record notes beside the code.
    """

    code: ClassVar[str] = "BAD_REQUEST"
    #: None: the registry's status for the code.
    status_default: ClassVar[int | None] = None

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        extensions: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        members: dict[str, object] | None = None,
        flags: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code  # type: ignore[misc]  # an instance may name its own code
        registered = CODES[self.code]  # KeyError: an unregistered code is a programming error
        chosen = status or self.status_default or registered.status
        if chosen is None:
            raise ValueError(f"{self.code} is never answered, so it cannot be a WireError")
        self.status: int = chosen
        self.extensions: dict[str, object] = dict(extensions or {})
        self.headers: dict[str, str] = dict(headers or {})
        self.members: dict[str, object] = dict(members or {})
        self.flags = flags

    def body(self) -> dict[str, Any]:
        """The JSON body: one error with the code and extensions, then any further members."""
        error = {"message": self.message, "extensions": {"code": self.code, **self.extensions}}
        return {"errors": [error], **self.members}


class AuthenticationError(WireError):
    """A bearer token was refused.

    `reason` is an `AuthenticationReason`; the message is a whole sentence that says what to do
    and never repeats the token. `status` is 401, except 503 when the gateway could not load its
    signing keys (the token may well be fine). The `WWW-Authenticate` challenge follows RFC
    6750: a request without a token gets the bare challenge; a refused token gets
    `error="invalid_token"` with the message as `error_description`; when the keys could not be
    loaded the token is not known to be wrong, so the challenge carries no error either.
    """

    code = "UNAUTHENTICATED"

    def __init__(self, reason: AuthenticationReason, message: str) -> None:
        challenge = f'Bearer realm="{REALM}"'
        headers = {}
        if reason == "keys_unavailable":
            headers["Retry-After"] = "30"
        elif reason != "missing_token":
            challenge += f', error="invalid_token", error_description="{_header_text(message)}"'
        headers["WWW-Authenticate"] = challenge
        super().__init__(
            message,
            status=503 if reason == "keys_unavailable" else 401,
            extensions={"reason": reason},
            headers=headers,
        )
        self.reason: AuthenticationReason = reason


class SigningKeyError(GatewayError):
    """The local development signing key file cannot be read or written."""


def _header_text(text: str) -> str:
    # RFC 6750 3: error_description is printable ASCII without '"' and '\'.
    return "".join(c if " " <= c <= "~" and c not in '"\\' else "'" for c in text)
