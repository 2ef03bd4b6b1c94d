"""Every request to every route leaves exactly one audit record and gets a JSON answer with its
`X-Request-Id`, whatever route or refusal answered it; probes are the documented exception
(docs/security.md, "Every request leaves one record")."""

from __future__ import annotations

import dataclasses
import json
import socket
import sqlite3
import time
from contextlib import closing
from typing import TYPE_CHECKING, Any

import pytest

from gateway.http.app import create_app
from gateway.settings import ServerOptions, Settings
from tests.conftest import NOW
from tests.gateway.conftest import InProcess, LiveServer, isolated
from tests.gateway.http.test_audit import audit_of

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    import httpx


def records_of(folder: Path, prefix: str) -> list[dict[str, Any]]:
    """The audit records whose request id starts with the client's `prefix`."""
    with closing(sqlite3.connect(folder / "audit.db")) as db:
        rows = db.execute("SELECT content FROM audit_log").fetchall()
    return [c for (text,) in rows if (c := json.loads(text))["requestId"].startswith(prefix + ".")]


def eventually_recorded(folder: Path, prefix: str) -> dict[str, Any]:
    """The one record of the request sent with X-Request-Id `prefix`, waiting up to 10 s."""
    deadline = time.monotonic() + 10
    while not (found := records_of(folder, prefix)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(found) == 1, found
    return found[0]


def refused_as(response: httpx.Response, status: int, code: str) -> str:
    """Check a JSON refusal; its request id."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json()["errors"][0]["extensions"]["code"] == code
    return response.headers["x-request-id"]


@pytest.mark.parametrize("method", ["OPTIONS", "PUT", "DELETE", "PATCH"])
def test_other_methods_on_graphql_are_json_refusals_recorded_once(
    live: InProcess, seeded: Path, method: str
) -> None:
    response = live.client.request(method, "/graphql", timeout=30)
    request_id = refused_as(response, 405, "METHOD_NOT_ALLOWED")
    assert set(response.headers["allow"].replace(" ", "").split(",")) >= {"GET", "POST"}
    assert f"{method} is not allowed on /graphql" in response.json()["errors"][0]["message"]
    record = audit_of(seeded, request_id)
    assert (record["endpoint"], record["decision"]) == ("/graphql", "refused")
    assert record["errorCodes"] == ["METHOD_NOT_ALLOWED"]


def test_get_on_the_policy_reload_is_refused_and_recorded(live: InProcess, seeded: Path) -> None:
    response = live.client.get("/admin/policy/reload", timeout=30)
    record = audit_of(seeded, refused_as(response, 405, "METHOD_NOT_ALLOWED"))
    assert record["endpoint"] == "/admin/policy/reload"


@pytest.mark.parametrize("path", ["/nope", "/graphql/", "/metrics", "/admin", "/static"])
def test_an_unknown_path_is_a_json_404_recorded_once(
    live: InProcess, seeded: Path, token_for: Callable[[str], str], path: str
) -> None:
    headers = {"Authorization": f"Bearer {token_for('GZ-PSB')}"}
    response = live.client.post(f"{path}", headers=headers, timeout=30)
    record = audit_of(seeded, refused_as(response, 404, "NOT_FOUND"))
    assert (record["endpoint"], record["decision"]) == (path, "refused")
    assert "govgate_" not in response.text  # /metrics is not on this port (metrics listener)


def test_head_on_graphql_is_the_page_for_browsers_and_a_recorded_refusal_for_programs(
    live: InProcess, seeded: Path, token_for: Callable[[str], str]
) -> None:
    headers = {"Authorization": f"Bearer {token_for('GZ-PSB')}", "X-Request-Id": "head-1"}
    page = live.client.head("/graphql", headers={**headers, "Accept": "text/html"})
    assert page.status_code == 200
    program = live.client.head("/graphql", headers=headers, timeout=30)
    assert program.status_code == 405
    (record,) = records_of(seeded, "head-1")  # the page left none
    assert record["requestId"] == program.headers["x-request-id"]
    assert record["errorCodes"] == ["METHOD_NOT_ALLOWED"]


def test_a_probe_method_other_than_get_is_recorded(live: InProcess, seeded: Path) -> None:
    response = live.client.post("/healthz", timeout=30)
    assert audit_of(seeded, refused_as(response, 405, "METHOD_NOT_ALLOWED"))["endpoint"] == (
        "/healthz"
    )


@pytest.mark.parametrize(
    ("path", "accept"),
    [
        ("/healthz", "*/*"),
        ("/readyz", "*/*"),
        ("/static/graphiql/LICENSES.txt", "*/*"),
        ("/static/graphiql/missing.js", "*/*"),
        ("/graphql", "text/html"),
    ],
)
def test_probes_carry_a_request_id_but_leave_no_record(
    live: InProcess, seeded: Path, path: str, accept: str
) -> None:
    response = live.client.get(f"{path}", headers={"Accept": accept,
                         "X-Request-Id": "probe"}, timeout=30)  # fmt: skip
    assert response.headers["x-request-id"].startswith("probe.")
    time.sleep(0.2)  # a record would be committed by now
    assert records_of(seeded, "probe") == []


def test_an_oversized_body_is_refused_and_recorded(
    live: InProcess, seeded: Path, token_for: Callable[[str], str]
) -> None:
    response = live.client.post("/graphql", content=b"{" + b" " * 200_000 + b"}",
                          headers={"Authorization": f"Bearer {token_for('GZ-PSB')}"})  # fmt: skip
    record = audit_of(seeded, refused_as(response, 413, "QUERY_TOO_COMPLEX"))
    assert (record["agency"], record["decision"]) == ("GZ-PSB", "refused")


def partial_post(port: int, token: str, request_id: str, sent: bytes, length: int) -> socket.socket:
    """A POST /graphql announcing `length` bytes of body and sending only `sent`."""
    connection = socket.create_connection(("127.0.0.1", port), timeout=30)
    connection.sendall(
        b"POST /graphql HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"
        + f"Authorization: Bearer {token}\r\nX-Request-Id: {request_id}\r\n".encode()
        + f"Content-Length: {length}\r\n\r\n".encode()
        + sent
    )
    return connection


def test_a_client_that_abandons_its_body_is_recorded_as_disconnected(
    served: LiveServer, seeded: Path, token_for: Callable[[str], str]
) -> None:
    connection = partial_post(served.port, token_for("GZ-PSB"), "abandon-1", b'{"query": ', 400)
    time.sleep(0.3)
    connection.close()
    record = eventually_recorded(seeded, "abandon-1")
    assert (record["agency"], record["decision"]) == ("GZ-PSB", "refused")
    assert record["errorCodes"] == ["CLIENT_DISCONNECTED"]
    assert "after 10 bytes of the body" in record["reason"]


@pytest.fixture
def strict(seeded: Path, tmp_path: Path) -> Iterator[tuple[LiveServer, Path]]:
    """A gateway of its own giving bodies 1 s and answering one request at a time."""
    server = ServerOptions(body_timeout_s=1.0, max_requests=1)
    settings = dataclasses.replace(isolated(Settings.demo(seeded), tmp_path), server=server)
    with LiveServer(create_app(settings, clock=lambda: NOW), server) as live:
        yield live, tmp_path


def test_a_body_slower_than_its_deadline_gets_408_and_is_recorded(
    strict: tuple[LiveServer, Path], token_for: Callable[[str], str]
) -> None:
    live, folder = strict
    connection = partial_post(live.port, token_for("GZ-PSB"), "slow-1", b'{"query"', 300)
    with closing(connection):
        started = time.monotonic()
        answer = b""
        while chunk := connection.recv(65_536):  # the server closes after answering
            answer += chunk
        waited = time.monotonic() - started
    head, _, text = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408")
    assert b"connection: close" in head.lower()
    assert json.loads(text)["errors"][0]["extensions"]["code"] == "REQUEST_TIMEOUT"
    assert 0.9 < waited < 10
    record = eventually_recorded(folder, "slow-1")
    assert (record["decision"], record["errorCodes"]) == ("refused", ["REQUEST_TIMEOUT"])


def test_past_the_requests_in_progress_limit_a_request_is_refused_overloaded(
    strict: tuple[LiveServer, Path], token_for: Callable[[str], str]
) -> None:
    live, folder = strict
    token = token_for("GZ-PSB")
    with closing(partial_post(live.port, token, "busy-1", b"{", 300)):  # holds the one slot
        time.sleep(0.2)
        response = live.client.post("/graphql", json={"query": "{ me { policyVersion } }"},
                              headers={"Authorization": f"Bearer {token}",
                                       "X-Request-Id": "over-1"}, timeout=30)  # fmt: skip
    refused_as(response, 503, "OVERLOADED")
    assert response.headers["retry-after"] == "1"
    assert eventually_recorded(folder, "over-1")["errorCodes"] == ["OVERLOADED"]
    assert eventually_recorded(folder, "busy-1")["errorCodes"] == ["CLIENT_DISCONNECTED"]
