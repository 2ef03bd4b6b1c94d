"""Defects the fuzzing and the attacker's review of issue 9 found, one failing test each.

Each test states what the gateway must do and fails on today's code (`xfail(strict=True)`: it
turns red the day it passes, so the mark goes with the fix). tests/fuzz/FINDINGS.md has, for
each, the repro, the impact and where the fix belongs.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.fuzz.conftest import serving, sign, standard_claims
from tests.fuzz.harness import check_exchange, raw_http, records_of

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from tests.fuzz.conftest import Defended


@pytest.fixture(autouse=True)
def _settled(defended: Defended) -> Iterator[None]:
    """Requests a test sends past the harness (raw sockets, threads) are counted by the test
    itself; whatever they recorded is not left for the next test's ledger."""
    yield
    defended.gateway.ledger.read_new()
    defended.gateway.ledger.pending.clear()


def _post(defended: Defended, agency: str, body: object) -> Any:
    exchange = defended.gateway.send(
        "POST", "/graphql", headers=defended.headers(agency), content=json.dumps(body).encode()
    )
    check_exchange(exchange)
    defended.gateway.ledger.settle([exchange])
    return exchange


#: 45 copies of `me` with 10 `agency { code }` each (1,600 tokens, within every other limit),
#: in a fragment no operation spreads.
UNUSED_PAIRS = (
    "{ me { policyVersion } } fragment Unused on Query { "
    + " ".join("me { " + " ".join("agency { code }" for _ in range(10)) + " }" for _ in range(45))
    + " }"
)


def test_a_fragment_no_operation_spreads_is_bounded_like_any_other_selection(
    defended: Defended,
) -> None:
    exchange = _post(defended, "GZ-WATER", {"query": UNUSED_PAIRS})
    errors = exchange.body()["errors"]
    assert [e["extensions"]["code"] for e in errors] == ["QUERY_TOO_COMPLEX"], errors
    assert "pairs of selections share a response name" in errors[0]["message"]
    # And the event loop is not held meanwhile: 4 clients fire it 3 times each.
    headers = {"Authorization": f"Bearer {defended.token('GZ-WATER')}"}

    def fire() -> None:
        with httpx.Client(base_url=defended.server.url, timeout=60) as http:
            for _ in range(3):
                http.post("/graphql", json={"query": UNUSED_PAIRS}, headers=headers)

    attackers = [threading.Thread(target=fire, daemon=True) for _ in range(4)]
    for attacker in attackers:
        attacker.start()
    waits: list[float] = []
    with httpx.Client(base_url=defended.server.url, timeout=60) as http:
        while any(a.is_alive() for a in attackers) or len(waits) < 5:
            started = time.perf_counter()
            assert http.get("/healthz").status_code == 200
            waits.append(time.perf_counter() - started)
    assert max(waits) < 1.0  # today 3.8 s here


def test_a_fragment_of_another_operation_may_use_that_operations_variables(
    defended: Defended,
) -> None:
    query = (
        "query A($v: Boolean!) { ...F } query B { me { policyVersion } } "
        "fragment F on Query { me @include(if: $v) { policyVersion } }"
    )
    exchange = defended.gateway.send(
        "POST",
        "/graphql",
        headers=defended.headers("GZ-WATER"),
        content=json.dumps({"query": query, "operationName": "B"}).encode(),
    )
    defended.gateway.ledger.settle([exchange])
    assert exchange.response is not None
    assert exchange.response.status_code == 200, exchange.describe()  # today: 500
    assert exchange.body()["data"]["me"]["policyVersion"]


def _pages_request(token: str, request_id: str) -> bytes:
    """A request whose answer is about 600 kB: 24 pages of 100 persons, within every limit."""
    query = (
        "{"
        + " ".join(
            f"p{i}: persons(first: 100) {{ edges {{ node {{ idNumber name address birthDate "
            "phone ethnicity } } }"
            for i in range(24)
        )
        + "}"
    )
    body = json.dumps({"query": query}).encode()
    return (
        b"POST /graphql HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"
        b"Authorization: Bearer "
        + token.encode()
        + b"\r\nX-Request-Id: "
        + request_id.encode()
        + b"\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )


def test_clients_that_never_read_their_answers_cannot_lock_out_other_agencies(
    seeded: Path, tmp_path: Path
) -> None:
    # The default is 200 slots per worker; 3 make the test fast, the mechanism is the same.
    with serving(seeded, tmp_path, max_requests=3) as small:
        token = small.token("GZ-PSB")
        readers = []
        for n in range(3):
            reader = socket.socket()
            reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4_096)
            reader.connect(("127.0.0.1", small.server.port))
            # Pipelined requests whose answers are never read: the kernel's buffers fill up,
            # then the gateway's, and the next answer waits to be written, for ever.
            reader.sendall(b"".join(_pages_request(token, f"slow{n}-{k}") for k in range(16)))
            readers.append(reader)
        # Until their buffers are full the readers' requests are real work, holding slots by
        # right; wait until no more of them are answered (their connections have stalled).
        answered, settled = -1, time.monotonic() + 20
        while time.monotonic() < settled:
            now = sum(len(records_of(small.folder / "audit.db", f"slow{n}-{k}"))
                      for n in range(3) for k in range(16))  # fmt: skip
            if now == answered:
                break
            answered = now
            time.sleep(1.0)
        assert 0 < answered < 48, answered  # stalled, with answers unread
        try:
            # Others keep asking for 15 s: every one must be answered (today: 503 OVERLOADED
            # within a few seconds, once the readers' answers stop being written).
            headers = {"Authorization": f"Bearer {small.token('GZ-WATER')}"}
            deadline = time.monotonic() + 15
            with httpx.Client(base_url=small.server.url, timeout=30) as http:
                while time.monotonic() < deadline:
                    answer = http.post("/graphql", json={"query": "{ me { policyVersion } }"},
                                       headers=headers)  # fmt: skip
                    assert answer.status_code == 200, answer.text
                    time.sleep(0.25)
        finally:
            for reader in readers:
                reader.close()


def test_a_websocket_upgrade_is_answered_with_a_request_id_and_recorded(
    defended: Defended,
) -> None:
    request = (
        b"GET /graphql HTTP/1.1\r\nHost: gateway\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Sec-WebSocket-Version: 13\r\nX-Request-Id: finding4\r\nAuthorization: Bearer "
        + defended.token("TH-CA").encode()
        + b"\r\n\r\n"
    )
    answer = raw_http(defended.server.url, request)
    assert b"\r\nx-request-id: finding4." in answer.lower(), answer  # today: 403, no id
    assert len(records_of(defended.folder / "audit.db", "finding4", wait_s=2)) == 1


@pytest.mark.parametrize(
    ("name", "damage"),
    [
        ("nul", b"X-Odd: a\x00b\r\n"),
        ("lengths", b"Content-Length: 2\r\nContent-Length: 3\r\n"),
        ("colon", b"Bad Header\r\n"),
    ],
)
def test_a_request_the_http_parser_refuses_is_answered_in_json_and_recorded(
    defended: Defended, name: str, damage: bytes
) -> None:
    prefix = f"finding5-{name}"
    request = (
        b"POST /graphql HTTP/1.1\r\nHost: gateway\r\nX-Request-Id: "
        + prefix.encode()
        + b"\r\nAuthorization: Bearer "
        + defended.token("TH-CA").encode()
        + b"\r\n"
        + damage
        + b"Connection: close\r\n\r\n{}"
    )
    answer = raw_http(defended.server.url, request)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"application/json" in head.lower(), answer
    assert b"x-request-id:" in head.lower(), answer
    assert json.loads(body)["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    # The headers were never parsed, so the id is the gateway's own: found by the one it sent.
    given = next(line for line in head.lower().split(b"\r\n") if line.startswith(b"x-request-id:"))
    request_id = given.partition(b":")[2].strip().decode()
    assert len(records_of(defended.folder / "audit.db", request_id, wait_s=2, exact=True)) == 1


@pytest.mark.parametrize("jti", ["", "j" * 256], ids=["empty", "256-characters"])
def test_a_token_whose_jti_cannot_be_revoked_is_refused(defended: Defended, jti: str) -> None:
    token = sign(defended.key, {**standard_claims("GZ-WATER"), "jti": jti})
    exchange = defended.gateway.send(
        "POST",
        "/graphql",
        content=b'{"query": "{ me { policyVersion } }"}',
        headers=[
            (b"Authorization", f"Bearer {token}".encode()),
            (b"Content-Type", b"application/json"),
        ],
    )
    defended.gateway.ledger.settle([exchange])
    assert exchange.response is not None
    assert exchange.response.status_code == 401, exchange.describe()  # today: 200
