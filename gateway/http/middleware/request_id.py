"""RequestIds: every request gets an id, every answer carries it (`X-Request-Id`), every log
line written while it is answered names it.

A client may send its own `X-Request-Id` (1 to 64 letters, digits and dashes): the gateway's id
is then `<client's>.<ours>`, so both can find the request; anything else the client sends is
ignored. The audit record (gateway.http.middleware.audited) is kept under the same id.
"""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING

from starlette.datastructures import Headers

from gateway.http.logs import logged_as

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["REQUEST_ID", "RequestIds", "new_id", "request_id_of", "stamped"]

#: The scope key under which the request's id travels.
REQUEST_ID = "govgate.request_id"
_CLIENT_REQUEST_ID = re.compile(r"[A-Za-z0-9-]{1,64}")


def new_id() -> str:
    """A fresh request id: 16 hex digits."""
    return uuid.uuid4().hex[:16]


def request_id_of(scope: Scope) -> str:
    """The id RequestIds gave this request (a fresh one outside it)."""
    found = scope.get(REQUEST_ID)
    return found if isinstance(found, str) else new_id()


def stamped(message: Message, request_id: str) -> Message:
    """`message` (a response start) with an `x-request-id` header unless it has one."""
    headers: list[tuple[bytes, bytes]] = list(message.get("headers", []))
    if not any(name.lower() == b"x-request-id" for name, _ in headers):
        headers.append((b"x-request-id", request_id.encode("ascii")))
    return {**message, "headers": headers}


class RequestIds:
    """ASGI middleware: the request's id, on its answer and in its log lines."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(Headers(scope=scope))
        scope[REQUEST_ID] = request_id

        async def send_stamped(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = stamped(message, request_id)
            await send(message)

        with logged_as(request_id):
            await self.app(scope, receive, send_stamped)


def _request_id(headers: Headers) -> str:
    """A fresh id, prefixed with the client's own (if plain) so both can find the request."""
    supplied = headers.get("x-request-id", "")
    ours = new_id()
    return f"{supplied}.{ours}" if _CLIENT_REQUEST_ID.fullmatch(supplied) else ours
