"""The gateway over the seeded SQLite data, in-process or on a real port, and tokens for it.

HTTP tests run in-process (`InProcess`: Starlette's TestClient drives the app through ASGI, with
its lifespan run); a real uvicorn server (`LiveServer`) only where the network is the point:
slow and abandoned bodies, concurrency over sockets, outages, workers, the browser, the metrics
listener.
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
import pytest
import uvicorn
from sqlalchemy import event

from gateway.http.app import create_app
from gateway.http.metrics_listener import MetricsListener
from gateway.http.slow_clients import ServerConfig
from gateway.identity.dev_keys import dev_signing_key, issue_token
from gateway.settings import ServerOptions, Settings
from tests.conftest import NOW

if TYPE_CHECKING:
    from collections.abc import Coroutine, Iterator
    from pathlib import Path

    from starlette.applications import Starlette

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def count_statements(app: Starlette, counter: Counter[str]) -> None:
    """Count every SQL statement the app's sources run into `counter`, by source."""
    for name, engine in app.state.gateway.engines.items():

        def count(*_: Any, source: str = name) -> None:
            counter[source] += 1

        event.listen(engine.sync_engine, "before_cursor_execute", count)


class _AppTransport(httpx.BaseTransport):
    """httpx's ASGITransport for a synchronous client: each request runs on the event loop of
    a thread of its own, where the app's lifespan runs too (the app's engines live there)."""

    def __init__(self, app: Starlette) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        # As a real server answers: an error in the app is a response, not an exception here.
        self.asgi = httpx.ASGITransport(app=app, raise_app_exceptions=False)

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run `coroutine` on the app's loop and wait for it."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        return self.run(self._handle(request))

    async def _handle(self, request: httpx.Request) -> httpx.Response:
        response = await self.asgi.handle_async_request(request)
        content = await response.aread()
        return httpx.Response(response.status_code, headers=response.headers, content=content)

    def close(self) -> None:
        if not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=20)
            self.loop.close()


class InProcess:
    """An app served in-process: `client` sends requests through ASGI (httpx.ASGITransport; no
    socket), the app's lifespan run on entry and exit; `url` is the client's base address. Like
    `LiveServer`, it counts the statements each source runs (`statements`)."""

    url = "http://testserver"

    def __init__(self, app: Starlette) -> None:
        self.app = app
        #: SQL statements executed, by source, since the last `statements.clear()`.
        self.statements: Counter[str] = Counter()
        count_statements(app, self.statements)
        self._transport = _AppTransport(app)
        self._lifespan = app.router.lifespan_context(app)
        self.client = httpx.Client(transport=self._transport, base_url=self.url, timeout=30)

    def __enter__(self) -> InProcess:
        self._transport.run(self._lifespan.__aenter__())
        return self

    def __exit__(self, *_: object) -> None:
        self._transport.run(self._lifespan.__aexit__(None, None, None))
        self.client.close()  # and its transport: the loop stops


class LiveServer:
    """uvicorn serving an app in a background thread, with govgate's own protocol and
    `options` (its slow-client deadlines; host and port are chosen here); `url` is its base
    address."""

    def __init__(self, app: Starlette, options: ServerOptions | None = None) -> None:
        self.app = app
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        options = dataclasses.replace(options or ServerOptions(), host="127.0.0.1", port=self.port)
        self.server = uvicorn.Server(ServerConfig(app, options=options, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        #: A client of this server over the network (paths relative to it), as `InProcess` has.
        self.client = httpx.Client(base_url=self.url, timeout=30)
        self._metrics: MetricsListener | None = None
        #: SQL statements executed, by source, since the last `statements.clear()`.
        self.statements: Counter[str] = Counter()
        count_statements(app, self.statements)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test gateway did not start")
            time.sleep(0.02)
        return self

    @property
    def metrics_url(self) -> str:
        """Where this gateway's metrics are scraped: a listener of their own (started now)."""
        if self._metrics is None:
            self._metrics = MetricsListener(
                ("127.0.0.1", 0), self.app.state.gateway.metrics.exposition
            )
            self._metrics.start()
        return f"http://127.0.0.1:{self._metrics.port}"

    def __exit__(self, *_: object) -> None:
        self.client.close()
        if self._metrics is not None:
            self._metrics.close()
        self.server.should_exit = True
        self.thread.join(timeout=20)


def isolated(settings: Settings, folder: Path) -> Settings:
    """`settings` with an audit store (which also holds the published policy) and signing keys
    of their own in `folder`: a second gateway on the shared seeded sources must not publish a
    policy that the session's `live` gateway would then follow."""
    return dataclasses.replace(
        settings,
        audit_url=f"sqlite+aiosqlite:///{folder / 'audit.db'}",
        signing_keys=folder / "keys" / "gateway",
    )


@pytest.fixture(scope="session")
def live(seeded: Path) -> Iterator[InProcess]:
    """The demo deployment over the seeded data, in-process."""
    with InProcess(create_app(Settings.demo(seeded), clock=lambda: NOW)) as server:
        yield server


@pytest.fixture(scope="session")
def served(seeded: Path) -> Iterator[LiveServer]:
    """The demo deployment over the seeded data on a free port: for tests about the network."""
    with LiveServer(create_app(Settings.demo(seeded), clock=lambda: NOW)) as server:
        yield server


@pytest.fixture(scope="session")
def token_for(seeded: Path) -> Callable[[str], str]:
    """A token signed with the seeded folder's development key, for any agency code."""
    key = dev_signing_key(seeded)
    return lambda agency: issue_token(key, agency=agency)


@pytest.fixture(scope="session")
def client(live: InProcess) -> httpx.Client:
    """A client of the in-process demo gateway (paths relative to it)."""
    return live.client


Ask = Callable[..., dict[str, Any]]


@pytest.fixture(scope="session")
def ask(client: httpx.Client, token_for: Callable[[str], str]) -> Ask:
    """`ask(agency, query, **variables)`: POST the query as that agency; the JSON answer."""

    def post(agency: str, query: str, **variables: object) -> dict[str, Any]:
        response = client.post(
            "/graphql",
            json={"query": query, "variables": variables or None},
            headers={"Authorization": f"Bearer {token_for(agency)}"},
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    return post


def without_cost(answer: dict[str, Any]) -> dict[str, Any]:
    """`answer` without its `extensions.cost` (on every GraphQL answer), checked to be there;
    `extensions` goes too when nothing else is in it."""
    extensions = dict(answer.get("extensions") or {})
    cost = extensions.pop("cost")
    assert set(cost) >= {"estimated", "limit"}, cost
    rest = {k: v for k, v in answer.items() if k != "extensions"}
    return {**rest, "extensions": extensions} if extensions else rest
