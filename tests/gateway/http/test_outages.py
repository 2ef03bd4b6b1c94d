"""A base database goes down mid-run (Art. 20): the rest answers, its fields are null with
SOURCE_UNAVAILABLE, nothing hangs, and answers resume when it returns, with no restart."""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
import pytest

from gateway.http.app import create_app
from gateway.settings import Settings
from sources.engines import SourceOptions, default_urls
from sources.synthetic.seed import seed
from tests.conftest import NOW, SMALL
from tests.gateway.conftest import LiveServer
from tests.gateway.tcp_proxy import TcpProxy

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

QUERY = """{ persons(first: 2) { edges { node { name } } }
             licenses(first: 2) { edges { node { licenseNumber } } } }"""


@pytest.fixture
def persons_on_postgres(
    postgres_url: str, seeded: Path, tmp_path: Path
) -> Iterator[tuple[LiveServer, TcpProxy]]:
    """The demo deployment with persons on PostgreSQL, reached through a proxy we can cut."""
    seed(dataclasses.replace(SMALL, entities=0, parcels=0, licenses=0),
         {"persons": postgres_url}, workers=1)  # fmt: skip
    server = urlsplit(postgres_url.replace("+asyncpg", ""))
    proxy = TcpProxy((server.hostname or "127.0.0.1", server.port or 5432)).start()
    through = postgres_url.replace(f"{server.hostname}:{server.port}", f"127.0.0.1:{proxy.port}")
    settings = dataclasses.replace(
        Settings.demo(seeded),
        sources={**default_urls(seeded), "persons": through},
        # Persons get 0.5 s per statement plus 1 s to connect: a hung server costs 1.5 s.
        source_options={"persons": SourceOptions(statement_timeout_ms=500, connect_timeout_s=1)},
        audit_url=f"sqlite+aiosqlite:///{tmp_path / 'audit.db'}",
        signing_keys=tmp_path / "keys",
    )
    try:
        with LiveServer(create_app(settings, clock=lambda: NOW)) as live:
            yield live, proxy
    finally:
        proxy.stop()


def ask(live: LiveServer, token: str) -> tuple[dict[str, Any], float]:
    started = time.monotonic()
    response = httpx.post(f"{live.url}/graphql", json={"query": QUERY},
                          headers={"Authorization": f"Bearer {token}"}, timeout=60)  # fmt: skip
    return response.json(), time.monotonic() - started


@pytest.mark.postgres
def test_a_source_that_goes_down_and_comes_back(
    persons_on_postgres: tuple[LiveServer, TcpProxy], token_for: Callable[[str], str]
) -> None:
    live, proxy = persons_on_postgres
    token = token_for("GZ-PSB")
    before, _ = ask(live, token)
    assert "errors" not in before
    assert len(before["data"]["persons"]["edges"]) == 2
    assert httpx.get(f"{live.url}/readyz").status_code == 200

    proxy.stop()
    during, took = ask(live, token)
    assert during["data"]["persons"] is None
    assert len(during["data"]["licenses"]["edges"]) == 2  # the other sources still answer
    [error] = during["errors"]
    assert error["extensions"]["code"] == "SOURCE_UNAVAILABLE"
    assert "(persons)" in error["message"]
    assert error["path"] == ["persons"]
    assert took < 15  # within the source's time limit, not hanging
    ready = httpx.get(f"{live.url}/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["persons"]["ok"] is False
    assert ready.json()["checks"]["licenses"]["ok"] is True

    proxy.start()  # same port: the database is back
    after, _ = ask(live, token)
    assert "errors" not in after, after
    assert after["data"]["persons"] == before["data"]["persons"]
    assert httpx.get(f"{live.url}/readyz").status_code == 200


@pytest.mark.postgres
def test_a_source_that_hangs_costs_its_time_limit_not_the_answer(
    persons_on_postgres: tuple[LiveServer, TcpProxy], token_for: Callable[[str], str]
) -> None:
    live, proxy = persons_on_postgres
    token = token_for("GZ-PSB")
    before, _ = ask(live, token)
    assert "errors" not in before
    proxy.stall()  # connections stay open, nothing comes back
    during, took = ask(live, token)
    assert during["data"]["persons"] is None
    assert len(during["data"]["licenses"]["edges"]) == 2
    assert [e["extensions"]["code"] for e in during["errors"]] == ["SOURCE_UNAVAILABLE"]
    assert "did not answer within 1.5 s" in during["errors"][0]["message"]
    assert took < 5  # the source's limit, not a hang
    proxy.resume()
    deadline = time.monotonic() + 10
    while True:  # a connection cut mid-statement is replaced on the next use
        after, _ = ask(live, token)
        if "errors" not in after or time.monotonic() > deadline:
            break
    assert after["data"]["persons"] == before["data"]["persons"]
