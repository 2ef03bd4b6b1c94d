"""Slow clients (slowloris): deadlines on a connection before its request reaches the app.

uvicorn has no deadline on request headers: its keep-alive timer starts only after a response
and any byte received cancels it, so 250 connections sending a header byte every few seconds
were held for ever, and enough of them exhaust the process's file descriptors (and with them
the audit store's). `SlowClientBounds` adds these bounds to uvicorn's HTTP protocols, the same
code for both parsers (`server.http`): `HttpToolsDeadlineProtocol` (httptools, the default:
its C parser costs a fraction of h11's per request) and `DeadlineProtocol` (h11, pure Python).
Each protocol says only which phase its client is in (`_their_phase`); the deadlines are shared:

- headers: a connection must deliver a request's complete headers within `header_timeout_s`
  of connecting, or of its previous response; else it is closed. No request was made, so there
  is nothing to audit; the log says so.
- body: the app answers 408 `REQUEST_TIMEOUT` (audited) when the body is not complete
  `body_timeout_s` after the headers (`gateway.http.middleware.body_deadline`); a connection still
  sending a body nobody reads (its request was already answered) is closed here, a few
  seconds after that deadline.
- writing: a client that stops reading its answer (the transport's buffer stays full) for
  `write_timeout_s` is disconnected: pipelined requests whose answers nobody reads would
  otherwise pin their answers in memory for ever (the request slots themselves are released
  once a record is committed, gateway.http.middleware.audited).
- connections: past `max_connections` open connections a new one is closed at once.

Bytes the HTTP parser refuses (a NUL in a header, two Content-Lengths) are not handed a
plain-text 400 by uvicorn: they go through the app's middleware as a refused request
(`UNPARSABLE`), so the answer is JSON with a request id and the attempt is recorded.

The gateway serves no websockets: an upgrade request is answered as plain HTTP (and so
recorded like any request), never handed to a websocket library that happens to be installed.

`ServerConfig` carries the deployment's `ServerOptions` to every worker (it is pickled to
them with the rest of uvicorn's configuration).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any, Literal

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from gateway.http.middleware.audited import UNPARSABLE
from gateway.settings import ServerOptions

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Scope
    from uvicorn.server import ServerState

__all__ = [
    "BODY_GRACE_SECONDS",
    "DeadlineProtocol",
    "HttpToolsDeadlineProtocol",
    "ServerConfig",
    "SlowClientBounds",
]

log = logging.getLogger("govgate.gateway")

#: How long after the app's own body deadline an unread body's connection is closed: the app
#: answers 408 first, and this catches bodies sent after their request was answered.
BODY_GRACE_SECONDS = 5.0
#: At most one warning per this many seconds about closed connections (an attack would
#: otherwise flood the log it is meant to be seen in).
_WARN_EVERY = 10.0

_Phase = Literal["headers", "body"]
#: Where an httptools client is: between requests, in a request's headers, in its body, done.
_Their = Literal["idle", "headers", "body", "done"]


#: Seconds a worker may take to answer its supervisor's health check (`--workers N`).
WORKER_HEALTHCHECK_S = 30


class ServerConfig(uvicorn.Config):
    """uvicorn's configuration with govgate's protocol, loop and the deployment's `[server]`."""

    def __init__(self, app: Any, *, options: ServerOptions, **kwargs: Any) -> None:
        protocol = HttpToolsDeadlineProtocol if options.http == "httptools" else DeadlineProtocol
        super().__init__(
            app,
            host=options.host,
            port=options.port,
            http=protocol,
            loop=options.loop,
            ws="none",  # no websockets: an upgrade is an ordinary, recorded HTTP request
            timeout_keep_alive=options.keep_alive_s,
            # uvicorn's supervisor kills a worker that misses a health-check ping for this long
            # (default 5 s); a worker building the policy on a CPU-starved machine can, and
            # was killed at start-up ("Child process died"). 30 s still catches a hung one.
            timeout_worker_healthcheck=WORKER_HEALTHCHECK_S,
            **kwargs,
        )
        self.options = options


class SlowClientBounds(asyncio.Protocol):
    """Header, body, write and connection-count bounds for a uvicorn HTTP protocol.

    Mixed in before the protocol class (`class P(SlowClientBounds, H11Protocol)`): its hooks
    call the protocol's own, then arm or cancel the deadlines. The protocol says which phase
    its client is in (`_their_phase`) and how to write a refusal on the wire (`_write_refusal`).
    """

    if TYPE_CHECKING:  # what uvicorn's protocols provide
        transport: asyncio.Transport
        loop: asyncio.AbstractEventLoop
        connections: set[Any]
        client: tuple[str, int] | None
        server: tuple[str, int | None] | None
        scheme: Literal["http", "https"] | None
        root_path: str
        app: ASGIApp
        app_state: dict[str, Any]
        config: uvicorn.Config

        def on_response_complete(self) -> None: ...

    options: ServerOptions
    _phase: _Phase | None
    _deadline: asyncio.TimerHandle | None
    _writing: asyncio.TimerHandle | None
    _refusing: asyncio.Task[None] | None

    def _bounds(self, config: uvicorn.Config) -> None:
        """Set up the bounds (from the protocol's `__init__`)."""
        options = getattr(config, "options", None)
        self.options = options if isinstance(options, ServerOptions) else ServerOptions()
        self._phase = None
        self._deadline = None
        self._writing = None
        self._refusing = None

    def _their_phase(self) -> _Phase | None:
        """The phase whose deadline applies now: "headers", "body", or None (no deadline)."""
        raise NotImplementedError

    def _write_refusal(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        """Write a complete answer that closes the connection."""
        raise NotImplementedError

    def _fallback_400(self, msg: str) -> None:
        """uvicorn's own plain-text 400 (when the app could not answer)."""
        raise NotImplementedError

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        if len(self.connections) > self.options.max_connections:
            _warn(f"closed a new connection: {self.options.max_connections} are open "
                  "(server.max_connections)")  # fmt: skip
            self.transport.close()
            return
        self._watch()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel()
        self._resumed()
        super().connection_lost(exc)

    def send_400_response(self, msg: str) -> None:
        """Refuse unparsable bytes through the app (recorded, JSON, a request id), not in
        uvicorn's plain text."""
        _warn(f"refused a request that is not well-formed HTTP ({msg})")
        self._refusing = self.loop.create_task(self._refuse_unparsable(msg))

    async def _refuse_unparsable(self, msg: str) -> None:
        answer: list[Message] = []

        async def receive() -> Message:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: Message) -> None:
            answer.append(message)

        scope: Scope = {
            "type": "http", "asgi": {"version": "3.0", "spec_version": "2.4"},
            "http_version": "1.1", "server": self.server, "client": self.client,
            "scheme": self.scheme, "method": "GET", "root_path": self.root_path,
            "path": "", "raw_path": b"", "query_string": b"", "headers": [],
            "state": self.app_state.copy(), UNPARSABLE: msg[:200],
        }  # fmt: skip
        try:
            await self.app(scope, receive, send)
        except Exception:  # the middleware answers every request; this is its last resort
            log.exception("refusing an unparsable request failed")
            answer = []
        if self.transport.is_closing():
            return
        start = next((m for m in answer if m["type"] == "http.response.start"), None)
        if start is None:
            self._fallback_400(msg)
            return
        body = b"".join(m.get("body", b"") for m in answer if m["type"] == "http.response.body")
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"connection"]
        self._write_refusal(start["status"], [*headers, (b"connection", b"close")], body)
        self.transport.close()

    def pause_writing(self) -> None:
        """The transport's buffer is full: the client must read on within the write deadline."""
        super().pause_writing()
        if self._writing is None:
            seconds = self.options.write_timeout_s
            self._writing = self.loop.call_later(seconds, self._stalled, seconds)

    def resume_writing(self) -> None:
        super().resume_writing()
        self._resumed()

    def _resumed(self) -> None:
        if self._writing is not None:
            self._writing.cancel()
            self._writing = None

    def _stalled(self, seconds: float) -> None:
        self._writing = None
        if self.transport.is_closing():
            return
        client = "%s:%d" % self.client if self.client else "a client"  # noqa: UP031
        _warn(f"closed the connection from {client}: it read none of its answer for "
              f"{seconds:g} s (server.write_timeout_s)")  # fmt: skip
        self.transport.abort()  # its buffered answer goes too: nothing waits on a close

    def _watch(self) -> None:
        """Arm the deadline of the phase the client is in; never re-arm it for more bytes."""
        if self.transport is None or self.transport.is_closing():
            self._cancel()
            return
        phase = self._their_phase()
        if phase == self._phase:
            return
        self._cancel()
        self._phase = phase
        if phase == "headers":
            seconds = self.options.header_timeout_s
        elif phase == "body":
            seconds = self.options.body_timeout_s + BODY_GRACE_SECONDS
        else:
            return
        self._deadline = self.loop.call_later(seconds, self._expire, phase, seconds)

    def _cancel(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        self._phase = None

    def _expire(self, phase: _Phase, seconds: float) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        client = "%s:%d" % self.client if self.client else "a client"  # noqa: UP031
        what = "complete request headers" if phase == "headers" else "the whole body"
        _warn(f"closed the connection from {client}: no {what} within {seconds:g} s "
              "(slow client; server.header_timeout_s / body_timeout_s)")  # fmt: skip
        self.transport.close()


class DeadlineProtocol(SlowClientBounds, H11Protocol):
    """uvicorn's h11 protocol with the slow-client bounds (`server.http = "h11"`)."""

    def __init__(
        self,
        config: uvicorn.Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._bounds(config)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._watch()

    def _their_phase(self) -> _Phase | None:
        their = self.conn.their_state
        return "headers" if their is h11.IDLE else "body" if their is h11.SEND_BODY else None

    def _write_refusal(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        response = h11.Response(status_code=status, headers=headers)
        for event in (response, h11.Data(data=body), h11.EndOfMessage()):
            self.transport.write(self.conn.send(event))

    def _fallback_400(self, msg: str) -> None:
        H11Protocol.send_400_response(self, msg)


class HttpToolsDeadlineProtocol(SlowClientBounds, HttpToolsProtocol):
    """uvicorn's httptools protocol with the slow-client bounds (the default `server.http`).

    httptools parses ahead of the answers (pipelined requests are read while one is answered),
    so the client's phase is followed from the parser's callbacks: a request's headers are due
    `header_timeout_s` after its first byte, or after the connection's last answer when it has
    sent nothing since; its body `body_timeout_s` (plus the grace) after its headers.
    """

    def __init__(
        self,
        config: uvicorn.Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._bounds(config)
        self._their: _Their = "idle"

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._their = "headers"

    def on_headers_complete(self) -> None:
        self._their = "body"
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._their = "done"

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self._their == "done" and not self.pipeline:
            self._their = "idle"  # every request read is answered: the next one's headers are due
        self._watch()

    def _their_phase(self) -> _Phase | None:
        their = self._their
        return "headers" if their in ("idle", "headers") else "body" if their == "body" else None

    def _write_refusal(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        lines = [STATUS_LINE[status]]
        for name, value in headers:
            if name.lower() != b"content-length":
                lines += [name, b": ", value, b"\r\n"]
        lines += [b"content-length: ", str(len(body)).encode("ascii"), b"\r\n\r\n", body]
        self.transport.write(b"".join(lines))

    def _fallback_400(self, msg: str) -> None:
        HttpToolsProtocol.send_400_response(self, msg)


_last_warning = 0.0
_suppressed = 0


def _warn(message: str) -> None:
    """Log `message`, at most once per _WARN_EVERY seconds, counting what was left out."""
    global _last_warning, _suppressed  # noqa: PLW0603 (one log rate per process)
    now = time.monotonic()
    if now - _last_warning < _WARN_EVERY:
        _suppressed += 1
        return
    extra = f" ({_suppressed} more since the last such warning)" if _suppressed else ""
    log.warning("%s%s", message, extra)
    _last_warning, _suppressed = now, 0
