"""Every request leaves exactly one audit record, committed before its answer is released.

The routes used to start their own trail and write their own record, so whatever no route
handled left none: `PUT /graphql` got a plain-text 405 without `X-Request-Id`, unknown paths a
plain 404, a client that went away mid-body nothing at all. `AuditedRequests` wraps the whole
app instead (Art. 28, 34), inside RequestIds (gateway.http.middleware.request_id: the id the
trail is kept under) and around BodyDeadline (gateway.http.middleware.body_deadline: what it
refuses is recorded here). For each HTTP request it

1. starts the `Trail` (the route reads it with `trail_of(request)`);
2. refuses at once, 503 `OVERLOADED`, past `max_requests` requests in progress (counted here,
   until the record is committed: a request waiting for its record still holds its place);
3. holds the response, whatever produced it (a route, Starlette's 404/405, the body deadline, a
   crash: 500), and releases it only once the record is committed; if the record cannot be, 503
   `AUDIT_UNAVAILABLE` goes out instead.

Probes are not recorded: `GET`/`HEAD` of `/healthz`, `/readyz`, `/static/...` and the GraphiQL
page. They take no token, read no base data and answer every caller alike, and a load balancer
polls them every few seconds: a record each would bury the log's meaning (and cost a commit
each). Any other method on them is recorded like any request.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qsl

from starlette.datastructures import Headers

from gateway.errors import WireError
from gateway.http.graphiql import AGENCY_HEADER
from gateway.http.middleware.request_id import request_id_of
from gateway.http.responses import error_response
from gateway.trust.audit import AuditUnavailableError
from gateway.trust.trail import Trail

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from gateway.http.metrics import Metrics

__all__ = [
    "UNPARSABLE",
    "AuditedRequests",
    "Recorder",
    "http_error",
    "page_link",
    "trail_in",
    "trail_of",
    "wants_page",
]

log = logging.getLogger("govgate.gateway")

#: The scope key under which the request's trail travels to the route.
TRAIL = "govgate.trail"
#: The scope key marking bytes the HTTP parser refused (gateway.http.slow_clients): the
#: middleware records and refuses them without running the app.
UNPARSABLE = "govgate.unparsable"
_PROBES = frozenset({"/healthz", "/readyz"})
#: The longest path an audit record keeps of a request to an unknown path.
_MAX_PATH = 200


class Recorder(Protocol):
    """What the middleware needs of the gateway."""

    metrics: Metrics

    def timestamp(self) -> str:
        """Now, as audit records write it."""

    async def commit(self, trail: Trail) -> None:
        """Write the trail's record; AuditUnavailableError when it cannot be."""


def trail_of(request: Request) -> Trail:
    """The trail `AuditedRequests` started for `request`."""
    return trail_in(request.scope)


def trail_in(scope: Scope) -> Trail:
    """The trail `AuditedRequests` started for the request of `scope`."""
    trail = scope.get(TRAIL)
    if not isinstance(trail, Trail):
        raise RuntimeError("the request has no trail: serve the app through AuditedRequests")
    return trail


def wants_page(headers: Headers) -> bool:
    """A browser asking for the GraphiQL page (not an API call)."""
    return "text/html" in headers.get("accept", "")


def page_link(headers: Headers) -> bool:
    """A browser following a GraphiQL link (`/graphql?query=...`, the editor prefilled): it
    accepts HTML and sends no token, so it gets the page, which reads no data. With a token the
    same URL is an API call, run and recorded whatever it accepts."""
    return wants_page(headers) and "authorization" not in headers


async def http_error(request: Request, error: Exception) -> Response:
    """Starlette's own refusals (no route: 404; a route without the method: 405) as JSON."""
    status = getattr(error, "status_code", 500)
    allowed = (getattr(error, "headers", None) or {}).get("Allow", "")
    if status == 405:
        code = "METHOD_NOT_ALLOWED"
        message = (f"{request.method} is not allowed on {request.url.path}; it answers "
                   f"{allowed or 'other methods'}. Send GraphQL operations with POST (JSON "
                   "body) to /graphql.")  # fmt: skip
    elif status == 404:
        code = "NOT_FOUND"
        message = ("Nothing is served at this path; send GraphQL operations with POST to "
                   "/graphql (docs/gateway.md).")  # fmt: skip
    else:
        code = "BAD_REQUEST"
        message = f"The request cannot be answered ({_detail(error)}); see docs/gateway.md."
    trail = request.scope.get(TRAIL)
    request_id = trail.request_id if isinstance(trail, Trail) else request_id_of(request.scope)
    if isinstance(trail, Trail):
        trail.refuse(code, message)
    refusal = WireError(message, code=code, status=status,
                        headers={"Allow": allowed} if allowed else {})  # fmt: skip
    return error_response(refusal, request_id)


def _detail(error: Exception) -> str:
    detail = getattr(error, "detail", "")
    return str(detail)[:200] if detail else type(error).__name__


class AuditedRequests:
    """ASGI middleware: one audit record per request, responses released after it commits."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        recorder: Recorder,
        endpoints: frozenset[str],
        max_requests: int,
    ) -> None:
        self.app = app
        self.recorder = recorder
        #: Paths the app routes; anything else counts as `other` in the metrics.
        self.endpoints = endpoints
        self.max_requests = max_requests
        self.in_progress = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        path = str(scope["path"])
        trail = Trail(path[:_MAX_PATH], request_id_of(scope), self.recorder.timestamp())
        scope[TRAIL] = trail
        unparsable = scope.get(UNPARSABLE)
        if isinstance(unparsable, str):
            message = (f"The request is not well-formed HTTP/1.1 ({unparsable}); send it again "
                       "as an HTTP client library writes it.")  # fmt: skip
            trail.refuse("BAD_REQUEST", message)
            refusal = WireError(message, code="BAD_REQUEST", headers={"Connection": "close"})
            for sent in await self._commit(
                trail, _render(error_response(refusal, trail.request_id))
            ):
                await send(sent)
            return
        if _is_probe(scope["method"], path, headers, scope.get("query_string", b"")):
            await self.app(scope, receive, send)
            return
        if self.in_progress >= self.max_requests:
            for sent in await self._commit(trail, self._overloaded(trail)):
                await send(sent)
            return
        # The slot covers the work and the record, not the client's reading of the answer: a
        # client that never reads must not hold it (sending is bounded by the connection's
        # write deadline, gateway.http.slow_clients).
        self.in_progress += 1
        try:
            held = await self._answer(scope, receive, trail)
            held = await self._commit(trail, held)
        finally:
            self.in_progress -= 1
        for sent in held:
            await send(sent)

    async def _answer(self, scope: Scope, receive: Receive, trail: Trail) -> list[Message]:
        """Run the app; the messages of its answer (none if the client is gone)."""
        held: list[Message] = []

        async def hold(message: Message) -> None:
            held.append(message)

        try:
            await self.app(scope, receive, hold)
        except Exception:
            log.exception("unexpected error in request %s", trail.request_id)
            message = (
                f"Internal error; it was logged with request id {trail.request_id}. Try again, "
                "and give that id to the platform administrator if it persists."
            )
            trail.refuse("INTERNAL_SERVER_ERROR", message)
            failure = WireError(message, code="INTERNAL_SERVER_ERROR")
            return _render(error_response(failure, trail.request_id))
        return held

    def _overloaded(self, trail: Trail) -> list[Message]:
        message = (f"The gateway is answering {self.max_requests} requests already; try again "
                   "in a second (server.max_requests).")  # fmt: skip
        trail.refuse("OVERLOADED", message)
        refusal = WireError(message, code="OVERLOADED", headers={"Retry-After": "1"})
        return _render(error_response(refusal, trail.request_id))

    async def _commit(self, trail: Trail, held: list[Message]) -> list[Message]:
        """Commit the record; what may be released then: `held`, or 503 AUDIT_UNAVAILABLE if
        the record cannot be committed."""
        metrics = self.recorder.metrics
        endpoint = trail.endpoint if trail.endpoint in self.endpoints else "other"
        try:
            await self.recorder.commit(trail)
        except AuditUnavailableError as error:
            metrics.answered(trail, decision="failed", endpoint=endpoint)
            if held:
                failure = WireError(str(error), code="AUDIT_UNAVAILABLE")
                held = _render(error_response(failure, trail.request_id))
        else:
            metrics.answered(trail, endpoint=endpoint)
            if held and trail.agency is not None:  # GraphiQL shows who answered
                held[0] = _with_header(held[0], AGENCY_HEADER, trail.agency)
        return held


def _is_probe(method: str, path: str, headers: Headers, query_string: bytes) -> bool:
    if method not in {"GET", "HEAD"}:
        return False
    return (
        path in _PROBES
        or path.startswith("/static/")
        or (
            path == "/graphql"
            and wants_page(headers)
            and (not _operation_in(query_string) or page_link(headers))
        )
    )


def _operation_in(query_string: bytes) -> bool:
    """Whether a GET's URL carries an operation: then it is an API call, recorded whatever it
    accepts (gateway.http.endpoints.graphql answers it, not the page)."""
    # Parsed as Starlette parses `request.query_params`, so the two never disagree.
    names = {name for name, _ in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)}
    return "query" in names or "extensions" in names


def _with_header(message: Message, name: str, value: str) -> Message:
    """A response start `message` with the header `name` set to `value`."""
    headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != name.lower().encode()]
    return {**message, "headers": [*headers, (name.lower().encode(), value.encode("latin-1"))]}


def _render(response: Response) -> list[Message]:
    """The ASGI messages of a complete in-memory response."""
    start: dict[str, Any] = {
        "type": "http.response.start",
        "status": response.status_code,
        "headers": response.raw_headers,
    }
    return [start, {"type": "http.response.body", "body": bytes(response.body)}]
