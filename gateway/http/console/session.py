"""Signing in to the console with an agency token, and keeping forms from being forged.

- **The session** is the token itself, in a cookie the page's scripts cannot read (`HttpOnly`),
  that no other site's page can make the browser send (`SameSite=Strict`), scoped to
  `/console`, `Secure` over HTTPS, and ending with the token (`Max-Age`). Every console request
  verifies it again like any bearer token (signature, expiry, revocation), so signing out
  elsewhere (`govgate token revoke`) ends it too. Nothing about it is kept on the server.
- **Forms** carry a CSRF token derived from the session (HMAC-SHA256 of a fixed label keyed by
  the SHA-256 of the session token): only a page that was served to the holder of the cookie
  knows it, and it needs no server state, so every gateway process checks it alike. The sign-in
  form, which has no session yet, uses a random double-submit cookie instead. A POST whose
  `Origin` names another site is refused before its token is looked at.
- **Bodies** are `application/x-www-form-urlencoded`, within the gateway's body limit, each
  field once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

import jwt

from gateway.http.body import BodyError, read_body

if TYPE_CHECKING:
    from collections.abc import Mapping

    from starlette.requests import Request
    from starlette.responses import Response

__all__ = [
    "CSRF_COOKIE",
    "SESSION_COOKIE",
    "FormError",
    "Viewer",
    "check_origin",
    "csrf_for",
    "end_session",
    "keep_sign_in_csrf",
    "read_form",
    "same_token",
    "sign_in_csrf",
    "start_session",
]

SESSION_COOKIE = "govgate_console"
CSRF_COOKIE = "govgate_console_signin"
_PATH = "/console"
_LABEL = b"govgate-console-csrf-v1"
#: The most fields a console form has; more is not a form of ours.
_MOST_FIELDS = 20


class FormError(Exception):
    """A form that cannot be taken: forged, malformed or too large. `status` and `code` say
    how it is answered."""

    def __init__(self, message: str, *, status: int = 400, code: str = "BAD_REQUEST") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass(frozen=True, slots=True, kw_only=True)
class Viewer:
    """Who is signed in: the agency, its officer, and what the console lets it do."""

    agency: str
    officer: str | None
    #: The platform administrator (Art. 5): every case, the policy, its history.
    administrator: bool
    #: The fields the agency's datasets provide (Art. 12-14): its cases and grant columns.
    provides: frozenset[str]
    #: The session's CSRF token, for the forms of the pages it is shown.
    csrf: str


def csrf_for(session_token: str) -> str:
    """The CSRF token of the session `session_token` (see the module)."""
    key = hashlib.sha256(session_token.encode("utf-8")).digest()
    return hmac.new(key, _LABEL, hashlib.sha256).hexdigest()


def same_token(given: str | None, expected: str) -> bool:
    """Constant-time equality of a submitted token and the expected one."""
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def check_origin(request: Request) -> None:
    """Refuse a POST that another site's page sent (its `Origin` is not this one)."""
    origin = request.headers.get("origin")
    if origin is None:
        return  # not sent by every client; the CSRF token still decides
    own = f"{request.url.scheme}://{request.url.netloc}"
    if origin != own:
        raise FormError(
            "This form was sent from another site's page, so it was not taken; open the "
            "console from the gateway's own address and use its forms.",
            status=403,
            code="FORBIDDEN",
        )


async def read_form(request: Request, *, max_bytes: int) -> Mapping[str, str]:
    """The urlencoded form of `request`: one value per field name."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise FormError(
            "A console form is sent as application/x-www-form-urlencoded; use the page's form."
        )
    try:
        body = await read_body(request, max_bytes=max_bytes)
        text = body.decode("utf-8")
    except BodyError as error:
        raise FormError(str(error), status=error.status, code=error.code) from None
    except UnicodeDecodeError:
        raise FormError("The form is not UTF-8 text; use the page's form.") from None
    try:
        fields = parse_qs(text, keep_blank_values=True, strict_parsing=bool(text),
                          max_num_fields=_MOST_FIELDS)  # fmt: skip
    except ValueError:
        raise FormError("The form cannot be read; use the page's form.") from None
    if any(len(values) != 1 for values in fields.values()):
        raise FormError("A form field was sent twice; use the page's form.")
    return {name: values[0] for name, values in fields.items()}


def start_session(response: Response, request: Request, token: str) -> None:
    """Set the session cookie on `response` (see the module), ending when the token does."""
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=_seconds_left(token),
        path=_PATH,
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )
    response.delete_cookie(CSRF_COOKIE, path=_PATH)


def end_session(response: Response, request: Request) -> None:
    """Clear the session cookie."""
    response.delete_cookie(
        SESSION_COOKIE, path=_PATH, secure=request.url.scheme == "https", httponly=True,
        samesite="strict",
    )  # fmt: skip


def sign_in_csrf(request: Request) -> str:
    """The sign-in form's double-submit token: the cookie's, or a new one."""
    found = request.cookies.get(CSRF_COOKIE, "")
    return found if len(found) == 64 and found.isalnum() else secrets.token_hex(32)


def keep_sign_in_csrf(response: Response, request: Request, value: str) -> None:
    """Set the sign-in form's double-submit cookie."""
    response.set_cookie(
        CSRF_COOKIE, value, max_age=3600, path=_PATH, secure=request.url.scheme == "https",
        httponly=True, samesite="strict",
    )  # fmt: skip


def _seconds_left(token: str) -> int:
    """Seconds until the (already verified) token expires; at least one."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
        expires = int(claims["exp"])
    except (jwt.PyJWTError, KeyError, TypeError, ValueError):
        return 1
    return max(1, expires - int(datetime.now(UTC).timestamp()))
