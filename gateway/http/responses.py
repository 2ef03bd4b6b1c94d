"""The one place a refusal becomes an HTTP answer: a `WireError` written out as JSON."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.responses import JSONResponse

if TYPE_CHECKING:
    from gateway.errors import WireError

__all__ = ["error_response"]


def error_response(error: WireError, request_id: str | None = None) -> JSONResponse:
    """`error`'s body, status and headers; with `X-Request-Id` when the request has one."""
    headers = dict(error.headers)
    if request_id is not None:
        headers["X-Request-Id"] = request_id
    return JSONResponse(error.body(), status_code=error.status, headers=headers)
