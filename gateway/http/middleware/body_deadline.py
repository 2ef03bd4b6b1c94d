"""BodyDeadline: a request's body arrives within `body_timeout_s` of its headers, or it is
refused (408 `REQUEST_TIMEOUT`, and the connection is closed); a client that leaves before its
body is complete is recorded as `CLIENT_DISCONNECTED` (there is no one to answer).

Slowloris: a client trickling its body would hold a request slot for as long as it likes
(gateway.http.slow_clients bounds the headers; this, the body). It sits inside the audit
middleware, which records what it refuses and releases its answer.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from starlette.requests import ClientDisconnect

from gateway.errors import WireError
from gateway.http.responses import error_response

if TYPE_CHECKING:
    from collections.abc import Callable

    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from gateway.trust.trail import Trail

__all__ = ["BodyDeadline"]


class _BodyTimeoutError(Exception):
    """The body did not arrive within the deadline."""


class BodyDeadline:
    """ASGI middleware: the body's deadline; `trail_of(scope)` is the request's trail."""

    def __init__(
        self, app: ASGIApp, *, body_timeout_s: float, trail_of: Callable[[Scope], Trail]
    ) -> None:
        self.app = app
        self.body_timeout_s = body_timeout_s
        self.trail_of = trail_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        deadline = asyncio.get_running_loop().time() + self.body_timeout_s
        received, complete = 0, False

        async def timed_receive() -> Message:
            nonlocal received, complete
            if complete:  # after the body only a disconnect can come: no deadline
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise _BodyTimeoutError from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                complete = not message.get("more_body", False)
            return message

        try:
            await self.app(scope, timed_receive, send)
        except _BodyTimeoutError:
            trail = self.trail_of(scope)
            message = (f"The request body did not arrive within {self.body_timeout_s:g} s; "
                       "send it at once (server.body_timeout_s).")  # fmt: skip
            trail.refuse("REQUEST_TIMEOUT", message)
            refusal = WireError(message, code="REQUEST_TIMEOUT", headers={"Connection": "close"})
            await error_response(refusal, trail.request_id)(scope, receive, send)
        except ClientDisconnect:
            self.trail_of(scope).refuse(
                "CLIENT_DISCONNECTED",
                f"The client closed the connection after {received} bytes of the body; nothing "
                "was run.",
            )
