"""Slow clients cannot hold the server: headers and bodies have deadlines and connections a cap,
over real sockets, while normal requests are answered meanwhile (docs/security.md, "Slow
clients, metrics and smaller leaks")."""

from __future__ import annotations

import dataclasses
import selectors
import socket
import time
from contextlib import ExitStack, closing, suppress
from typing import TYPE_CHECKING

import httpx
import pytest

from gateway.http.app import create_app
from gateway.http.slow_clients import DeadlineProtocol, HttpToolsDeadlineProtocol, ServerConfig
from gateway.settings import HTTP_PARSERS, ConfigError, ServerOptions, Settings
from tests.conftest import NOW
from tests.gateway.conftest import LiveServer, isolated

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

OPTIONS = ServerOptions(header_timeout_s=1.5, body_timeout_s=1.0, max_connections=400)


@pytest.fixture(params=HTTP_PARSERS)
def guarded(seeded: Path, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    """A live gateway with short deadlines, under each HTTP parser (httptools is the default)."""
    options = dataclasses.replace(OPTIONS, http=request.param)
    settings = dataclasses.replace(isolated(Settings.demo(seeded), tmp_path), server=options)
    with LiveServer(create_app(settings, clock=lambda: NOW), options) as live:
        yield live


def slow_header(port: int) -> socket.socket:
    """A connection that has sent part of a request's headers (and will send more, slowly)."""
    connection = socket.create_connection(("127.0.0.1", port), timeout=5)
    connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: gateway\r\n")
    connection.setblocking(False)
    return connection


def closed_within(connections: list[socket.socket], seconds: float, drip: bool) -> list[float]:
    """When (seconds from now) the server closed each connection; `drip` sends a header byte
    to each every 0.3 s meanwhile, as slowloris does. Raises past `seconds`."""
    started = time.monotonic()
    open_ones = {c.fileno(): c for c in connections}
    closed: list[float] = []
    with selectors.DefaultSelector() as selector:
        for connection in connections:
            selector.register(connection, selectors.EVENT_READ)
        next_drip = started
        while open_ones:
            now = time.monotonic()
            if now - started > seconds:
                raise AssertionError(f"{len(open_ones)} connections still open after {seconds} s")
            if drip and now >= next_drip:
                for connection in list(open_ones.values()):
                    with suppress(OSError):  # closed by the server: the read below will tell
                        connection.send(b"X")
                next_drip = now + 0.3
            for key, _ in selector.select(timeout=0.1):
                connection = open_ones[key.fd]
                try:
                    data = connection.recv(4096)
                except (ConnectionResetError, BlockingIOError):
                    data = b""
                if not data:
                    selector.unregister(connection)
                    del open_ones[key.fd]
                    closed.append(time.monotonic() - started)
    return closed


def test_a_dripping_header_is_cut_off_at_its_deadline_while_others_are_answered(
    guarded: LiveServer,
) -> None:
    with closing(slow_header(guarded.port)) as slow:
        answered = [httpx.get(f"{guarded.url}/healthz", timeout=5).status_code for _ in range(5)]
        (when,) = closed_within([slow], seconds=10, drip=True)
    assert answered == [200] * 5
    assert when < OPTIONS.header_timeout_s + 1.0


def test_250_slow_header_connections_do_not_hold_the_server(
    guarded: LiveServer, token_for: Callable[[str], str]
) -> None:
    with ExitStack() as stack:
        slow = [stack.enter_context(closing(slow_header(guarded.port))) for _ in range(250)]
        query = {"query": "{ persons(first: 1) { edges { node { name } } } }"}
        headers = {"Authorization": f"Bearer {token_for('GZ-PSB')}"}
        with httpx.Client(base_url=guarded.url, timeout=5) as client:
            statuses = [client.post("/graphql", json=query, headers=headers).status_code
                        for _ in range(10)]  # fmt: skip
        closed = closed_within(slow, seconds=15, drip=True)
    assert statuses == [200] * 10
    assert len(closed) == 250
    assert max(closed) < OPTIONS.header_timeout_s + 5


def test_an_idle_connection_that_never_sends_a_byte_is_closed(guarded: LiveServer) -> None:
    connection = socket.create_connection(("127.0.0.1", guarded.port), timeout=5)
    connection.setblocking(False)
    with closing(connection):
        (when,) = closed_within([connection], seconds=10, drip=False)
    assert when < OPTIONS.header_timeout_s + 1.0


def test_a_body_sent_after_its_request_was_answered_cannot_hold_the_connection(
    guarded: LiveServer,
) -> None:
    """No token: answered 401 before the body is read; the client keeps dripping the body."""
    connection = socket.create_connection(("127.0.0.1", guarded.port), timeout=5)
    connection.sendall(b"POST /graphql HTTP/1.1\r\nHost: gateway\r\n"
                       b"Content-Length: 100000\r\n\r\n{")  # fmt: skip
    connection.setblocking(False)
    with closing(connection):
        (when,) = closed_within([connection], seconds=20, drip=True)
    assert when < OPTIONS.body_timeout_s + 8


@pytest.mark.parametrize("parser", HTTP_PARSERS)
def test_connections_past_the_cap_are_closed_at_once(
    seeded: Path, tmp_path: Path, parser: str
) -> None:
    options = ServerOptions(header_timeout_s=20, max_connections=5, http=parser)
    settings = dataclasses.replace(isolated(Settings.demo(seeded), tmp_path), server=options)
    with LiveServer(create_app(settings, clock=lambda: NOW), options) as live, ExitStack() as stack:
        held = [stack.enter_context(closing(slow_header(live.port))) for _ in range(5)]
        time.sleep(0.2)
        extra = slow_header(live.port)
        stack.enter_context(closing(extra))
        (when,) = closed_within([extra], seconds=5, drip=False)
        assert when < 2
        for connection in held:  # the first five are still open
            with pytest.raises(BlockingIOError):
                connection.recv(1)


def test_httptools_and_uvloop_are_the_default_and_h11_and_asyncio_may_be_chosen() -> None:
    default = ServerConfig("gateway.http.serving:app_from_environment", options=ServerOptions())
    assert default.http is HttpToolsDeadlineProtocol
    assert default.loop == "uvloop"
    chosen = ServerOptions(http="h11", loop="asyncio")
    plain = ServerConfig("gateway.http.serving:app_from_environment", options=chosen)
    assert plain.http is DeadlineProtocol
    assert plain.loop == "asyncio"
    with pytest.raises(ConfigError, match=r"server\.http must be one of httptools, h11"):
        ServerOptions(http="h2")
    with pytest.raises(ConfigError, match=r"server\.loop must be one of uvloop, asyncio"):
        ServerOptions(loop="trio")


def test_a_live_server_serves_with_govgates_protocol_on_uvloop(guarded: LiveServer) -> None:
    connection = socket.create_connection(("127.0.0.1", guarded.port), timeout=5)
    with closing(connection):
        connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: gateway\r\n\r\n")
        assert connection.recv(4096).startswith(b"HTTP/1.1 200")
        protocols = {type(p) for p in guarded.server.server_state.connections}
    assert protocols == {guarded.server.config.http}
    assert guarded.server.config.http in (HttpToolsDeadlineProtocol, DeadlineProtocol)
    loop = next(iter(guarded.server.server_state.connections)).loop
    assert type(loop).__module__.startswith("uvloop")


@pytest.mark.parametrize("parser", HTTP_PARSERS)
def test_pipelined_requests_are_answered_then_the_idle_connection_meets_its_header_deadline(
    seeded: Path, tmp_path: Path, parser: str
) -> None:
    """httptools reads ahead of the answers: two requests sent at once are both answered, and
    the header deadline of the connection's next request starts after the last answer."""
    options = dataclasses.replace(OPTIONS, http=parser, keep_alive_s=60)
    settings = dataclasses.replace(isolated(Settings.demo(seeded), tmp_path), server=options)
    with LiveServer(create_app(settings, clock=lambda: NOW), options) as live:
        connection = socket.create_connection(("127.0.0.1", live.port), timeout=5)
        with closing(connection):
            connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: gateway\r\n\r\n" * 2)
            answers = b""
            while answers.count(b"HTTP/1.1 200") < 2:
                chunk = connection.recv(4096)
                assert chunk, answers
                answers += chunk
            connection.setblocking(False)
            (when,) = closed_within([connection], seconds=10, drip=False)
    assert when < OPTIONS.header_timeout_s + 1.0
