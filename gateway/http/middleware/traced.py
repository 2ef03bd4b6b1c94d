"""Traced: the `request` span around everything a request does (docs/gateway.md "Traces").

Installed only when `[tracing] enabled` (gateway.http.app): a gateway without traces does not
pass through it at all. It sits inside RequestIds (whose id the span carries) and around
AuditedRequests, so the audit commit, the plan, the statements and the vouchers are its
children. A W3C `traceparent` sent by the caller becomes the span's parent.

What the span carries: the method, the route (a path the app serves, else `other`: an unknown
path may hold anything a caller typed), the status, the request id and the agency code (after
the token is verified). Never a header, the query, variables or the body (docs/security.md).
Probes (`GET`/`HEAD` of `/healthz`, `/readyz`, `/static/...`) are not traced.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.datastructures import Headers

from gateway import tracing
from gateway.http.middleware.audited import TRAIL
from gateway.http.middleware.request_id import request_id_of
from gateway.trust.trail import Trail

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["Traced"]

_PROBES = ("/healthz", "/readyz", "/static/")


class Traced:
    """ASGI middleware: one `request` span per HTTP request (probes aside)."""

    def __init__(self, app: ASGIApp, *, endpoints: frozenset[str]) -> None:
        self.app = app
        #: Paths the app routes; any other is traced as `other`.
        self.endpoints = endpoints

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] != "http" or (
            scope["method"] in {"GET", "HEAD"} and path.startswith(_PROBES)
        ):
            await self.app(scope, receive, send)
            return
        attributes: dict[str, tracing.Attribute] = {
            "http.request.method": str(scope["method"]),
            "http.route": path if path in self.endpoints else "other",
            "govgate.request_id": request_id_of(scope),
        }
        with tracing.span("request", attributes, parent=Headers(scope=scope)) as traced:

            async def send_noted(message: Message) -> None:
                if message["type"] == "http.response.start":
                    traced.set("http.response.status_code", int(message["status"]))
                    trail = scope.get(TRAIL)
                    if isinstance(trail, Trail) and trail.agency is not None:
                        traced.set("govgate.agency", trail.agency)
                await send(message)

            await self.app(scope, receive, send_noted)
