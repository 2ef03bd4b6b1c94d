"""Serving: refused tokens over HTTP, policy reload without restart, errors, GraphiQL, demo."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from gateway.http.app import create_app
from gateway.identity.dev_keys import dev_signing_key, issue_token
from gateway.settings import Settings
from policies.catalog import SHIPPED_CATALOG
from tests.conftest import NOW
from tests.gateway.conftest import LiveServer, free_port, isolated, without_cost

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def hmac_with_public_key(claims: dict[str, Any], public_pem: str, kid: str) -> str:
    """The classic key-confusion forgery: HS256 keyed with the server's public key."""
    signing_input = f"{b64({'alg': 'HS256', 'typ': 'JWT', 'kid': kid})}.{b64(claims)}"
    digest = hmac.new(public_pem.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(digest).rstrip(b'=').decode()}"


def forged(seeded: Path) -> dict[str, str]:
    """Tokens an attacker (or a confused client) might send, by the reason they fail."""
    key = dev_signing_key(seeded)
    now = int(time.time())
    claims = {"sub": "TH-CA", "iss": "govgate-dev", "aud": "govgate", "exp": now + 600}
    header = b64({"alg": "none", "typ": "JWT"})
    return {
        "malformed_token": "not.a.jwt",
        "expired": issue_token(key, agency="TH-CA", now=now - 7200, ttl_seconds=3600),
        "wrong_audience": issue_token(key, agency="TH-CA", audience="someone-else"),
        "wrong_issuer": issue_token(key, agency="TH-CA", issuer="evil"),
        "unsigned_token": f"{header}.{b64(claims)}.",
        "algorithm_not_allowed": hmac_with_public_key(claims, key.public_pem(), key.kid),
        "unknown_agency": issue_token(key, agency="GZ-NOPE"),
    }


@pytest.mark.parametrize(
    "reason",
    ["malformed_token", "expired", "wrong_audience", "wrong_issuer", "unsigned_token",
     "algorithm_not_allowed", "unknown_agency"],
)  # fmt: skip
def test_refused_tokens_get_401_with_the_reason_and_a_challenge(
    client: httpx.Client, seeded: Path, reason: str
) -> None:
    token = forged(seeded)[reason]
    response = client.post("/graphql", json={"query": "{ me { policyVersion } }"},
                           headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    assert response.status_code == 401
    body = response.json()
    assert body["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED", "reason": reason}
    assert body["errors"][0]["message"].endswith(".")
    assert token not in response.text
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith('Bearer realm="govgate", error="invalid_token"')
    assert "data" not in body


def test_a_request_without_a_token_is_told_how_to_send_one(client: httpx.Client) -> None:
    response = client.post("/graphql", json={"query": "{ me { policyVersion } }"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="govgate"'
    assert "Authorization: Bearer" in response.json()["errors"][0]["message"]


def test_a_body_that_is_not_json_gets_a_clear_400(
    client: httpx.Client, token_for: Callable[[str], str]
) -> None:
    response = client.post("/graphql", content=b"{query",
                           headers={"Authorization": f"Bearer {token_for('TH-CA')}"})  # fmt: skip
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert response.headers["x-request-id"]


def test_graphiql_and_its_assets_are_served_locally(client: httpx.Client) -> None:
    page = client.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert 'id="token"' in page.text
    for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text):
        assert client.get(asset).status_code == 200, asset
    assert "unpkg" not in page.text
    assert client.get("/graphql").status_code == 405


def test_the_graphiql_page_forbids_inline_script_framing_and_sniffing(
    client: httpx.Client,
) -> None:
    page = client.get("/graphql", headers={"Accept": "text/html"})
    policy = dict(
        directive.strip().split(" ", 1)
        for directive in page.headers["content-security-policy"].split(";")
    )
    assert policy["script-src"] == "'self'"  # no 'unsafe-inline', no 'unsafe-eval'
    assert policy["frame-ancestors"] == "'none'"
    assert policy["default-src"] == "'none'"
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    # Nothing inline for the policy to have to allow: every script and style is a file.
    assert not re.search(r"<script(?![^>]*\bsrc=)", page.text)
    assert "<style" not in page.text
    assert not re.search(r"<[^>]*\son[a-z]+\s*=", page.text)  # no onclick= and the like


def test_every_authenticated_answer_names_the_agency_and_no_other_does(
    client: httpx.Client, token_for: Callable[[str], str]
) -> None:
    query = {"query": "{ me { agency { code } } }"}
    answered = client.post("/graphql", json=query,
                           headers={"Authorization": f"Bearer {token_for('PY-TAX')}"})  # fmt: skip
    assert answered.headers["x-govgate-agency"] == "PY-TAX"
    refused = client.post("/graphql", json={"query": "{ person(idNumber: \"1\") { religion } }"},
                          headers={"Authorization": f"Bearer {token_for('PY-TAX')}"})  # fmt: skip
    assert refused.headers["x-govgate-agency"] == "PY-TAX"  # refused, but as PY-TAX
    for headers in ({}, {"Authorization": "Bearer not.a.jwt"}):
        unauthenticated = client.post("/graphql", json=query, headers=headers)
        assert unauthenticated.status_code == 401
        assert "x-govgate-agency" not in unauthenticated.headers
    assert "x-govgate-agency" not in client.get("/graphql", headers={"Accept": "text/html"}).headers


def test_health_reports_the_policy_version(client: httpx.Client) -> None:
    body = client.get("/healthz").json()
    assert body["status"] == "ok"
    assert re.fullmatch(r"[0-9a-f]{16}", body["policyVersion"])


def test_unexpected_errors_are_masked_and_carry_the_request_id(
    seeded: Path, tmp_path: Path, token_for: Callable[[str], str],
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    settings = Settings.demo(seeded)
    sqlite3.connect(tmp_path / "persons.db").close()  # a database without the persons table
    broken = dict(settings.sources, persons=f"sqlite+aiosqlite:///{tmp_path}/persons.db")
    app = create_app(isolated(dataclasses.replace(settings, sources=broken), tmp_path))
    with LiveServer(app) as server, httpx.Client(base_url=server.url) as http:
        response = http.post(
            "/graphql",
            json={"query": '{ person(idNumber: "11010519491231002X") { name } }'},
            headers={"Authorization": f"Bearer {token_for('GZ-PSB')}", "X-Request-Id": "req-42"},
        )
    body = response.json()
    error = body["errors"][0]
    request_id = error["extensions"]["requestId"]
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert request_id.startswith("req-42.")
    assert request_id in error["message"]
    assert response.headers["x-request-id"] == request_id
    assert "Traceback" not in response.text
    assert "sqlite" not in response.text.lower()
    assert any(request_id in r.getMessage() for r in caplog.records)


# -- reload --------------------------------------------------------------------------------------


@pytest.fixture
def reloadable(seeded: Path, tmp_path: Path) -> Iterator[tuple[LiveServer, Path]]:
    """A gateway serving a copy of the shipped catalogue that the test may edit."""
    catalog = tmp_path / "catalog.yaml"
    shutil.copy(SHIPPED_CATALOG, catalog)
    shutil.copy(SHIPPED_CATALOG.with_name("guangzhou.rules.csv"), tmp_path / "catalog.rules.csv")
    settings = dataclasses.replace(
        Settings.demo(seeded), catalog=catalog, rules=tmp_path / "catalog.rules.csv"
    )
    with LiveServer(create_app(isolated(settings, tmp_path), clock=lambda: NOW)) as server:
        yield server, catalog


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text("utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), "utf-8")


def post(server: LiveServer, token: str, path: str, **body: Any) -> httpx.Response:
    return httpx.post(f"{server.url}{path}", json=body or None, timeout=60,
                      headers={"Authorization": f"Bearer {token}"})  # fmt: skip


def test_a_reload_opens_new_grants_at_once_without_a_restart(
    reloadable: tuple[LiveServer, Path], token_for: Callable[[str], str]
) -> None:
    server, catalog = reloadable
    query = '{ person(idNumber: "11010519491231002X") { phone } }'
    before = post(server, token_for("TH-CA"), "/graphql", query=query).json()
    assert before["errors"][0]["extensions"]["code"] == "FORBIDDEN_FIELD"
    text = catalog.read_text("utf-8")
    catalog.write_text(
        text.replace("phone: {sharing: conditional, duties: [household-registration, "
                     "public-security]}",
                     "phone: {sharing: conditional, duties: [household-registration, "
                     "public-security, civil-affairs]}"),
        "utf-8",
    )  # fmt: skip
    answer = post(server, token_for("GZ-DATA"), "/admin/policy/reload")
    assert answer.status_code == 200, answer.text
    assert answer.json()["changed"] is True
    after = post(server, token_for("TH-CA"), "/graphql", query=query).json()
    assert without_cost(after) == {"data": {"person": None}}


def test_a_broken_catalogue_is_refused_and_the_old_policy_stays(
    reloadable: tuple[LiveServer, Path], token_for: Callable[[str], str]
) -> None:
    server, catalog = reloadable
    version = httpx.get(f"{server.url}/healthz").json()["policyVersion"]
    edit(catalog, "duties: [civil-affairs]}", "duties: [civil-afairs]}")
    answer = post(server, token_for("GZ-DATA"), "/admin/policy/reload")
    assert answer.status_code == 422
    body = answer.json()
    assert body["policyVersion"] == version
    assert any("unknown duty 'civil-afairs'" in p for p in body["problems"])
    assert httpx.get(f"{server.url}/healthz").json()["policyVersion"] == version


def test_only_the_platform_administrator_may_reload(
    reloadable: tuple[LiveServer, Path], token_for: Callable[[str], str]
) -> None:
    server, _ = reloadable
    answer = post(server, token_for("GZ-PSB"), "/admin/policy/reload")
    assert answer.status_code == 403
    assert "GZ-DATA" in answer.json()["errors"][0]["message"]


def test_requests_in_flight_during_a_reload_all_succeed(
    reloadable: tuple[LiveServer, Path], token_for: Callable[[str], str]
) -> None:
    server, catalog = reloadable
    edit(catalog, 'version: "2026.11"', 'version: "2026.12"')
    failures: list[str] = []
    versions: set[str] = set()
    stop = threading.Event()
    token = token_for("TH-CA")

    def hammer() -> None:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            while not stop.is_set():
                response = http.post("/graphql", json={"query": "{ me { policyVersion } }"},
                                     headers={"Authorization": f"Bearer {token}"})  # fmt: skip
                if response.status_code != 200 or "errors" in response.json():
                    failures.append(response.text)
                else:
                    versions.add(response.json()["data"]["me"]["policyVersion"])

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(0.3)
    answer = post(server, token_for("GZ-DATA"), "/admin/policy/reload")
    time.sleep(0.3)
    stop.set()
    for thread in threads:
        thread.join()
    assert answer.status_code == 200
    assert failures == []
    assert versions == {answer.json()["previousVersion"], answer.json()["policyVersion"]}


def test_a_temporary_grant_ends_at_midnight_on_a_running_gateway(
    seeded: Path, tmp_path: Path, token_for: Callable[[str], str]
) -> None:
    # The shipped author rule lets TH-CA read education until 2026-12-31 (Art. 19).
    today = [datetime(2026, 12, 31, 12, tzinfo=UTC)]
    query = "{ persons(first: 1) { edges { node { education } } } }"
    settings = isolated(Settings.demo(seeded), tmp_path)
    with LiveServer(create_app(settings, clock=lambda: today[0])) as server:
        before = post(server, token_for("TH-CA"), "/graphql", query=query).json()
        today[0] = datetime(2027, 1, 1, 12, tzinfo=UTC)
        after = post(server, token_for("TH-CA"), "/graphql", query=query).json()
    assert "errors" not in before
    assert [e["extensions"]["code"] for e in after["errors"]] == ["FORBIDDEN_FIELD"]


def test_policy_reload_cli_reaches_a_running_gateway(
    reloadable: tuple[LiveServer, Path], seeded: Path
) -> None:
    server, _ = reloadable
    govgate = shutil.which("govgate") or str(Path(sys.executable).with_name("govgate"))
    result = subprocess.run(
        [govgate, "policy", "reload", "--url", server.url, "--data", str(seeded)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "(unchanged)" in result.stdout


# -- the demo, as a new developer runs it ---------------------------------------------------------


def test_govgate_demo_serves_and_prints_working_tokens(tmp_path: Path) -> None:
    govgate = shutil.which("govgate") or str(Path(sys.executable).with_name("govgate"))
    port = free_port()
    process = subprocess.Popen(
        [govgate, "demo", "--data", str(tmp_path / "demo"), "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        lines: list[str] = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert process.stdout is not None
            line = process.stdout.readline()
            lines.append(line)
            if line.startswith("GraphiQL:"):
                break
        output = "".join(lines)
        assert f"GraphiQL: http://127.0.0.1:{port}/graphql" in output
        tokens = dict(re.findall(r"\n  ([A-Z]+-[A-Z]+)  .*\n  (ey[\w.-]+)", output))
        assert set(tokens) >= {"GZ-PSB", "TH-CA", "GZ-WATER"}
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        answer = httpx.post(
            f"http://127.0.0.1:{port}/graphql",
            json={
                "query": "{ me { agency { code } } persons(first: 2) { edges { node { name } } } }"
            },
            headers={"Authorization": f"Bearer {tokens['TH-CA']}"},
        ).json()
        assert answer["data"]["me"]["agency"]["code"] == "TH-CA"
        assert len(answer["data"]["persons"]["edges"]) == 2
    finally:
        process.terminate()
        process.communicate(timeout=30)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"[" * 40_000, "BAD_REQUEST"),
        (b'{"query": ' + b"9" * 5_000 + b"}", "BAD_REQUEST"),
        (b"\xff\xfe", "BAD_USER_INPUT"),  # not UTF-8: text, not syntax (gateway.http.body)
    ],
)
def test_json_that_breaks_parsers_gets_a_clear_400(
    client: httpx.Client, token_for: Callable[[str], str], body: bytes, code: str
) -> None:
    response = client.post("/graphql", content=body,
                           headers={"Authorization": f"Bearer {token_for('TH-CA')}"})  # fmt: skip
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == code


def test_a_body_over_the_limit_is_refused_without_reading_it_all(
    client: httpx.Client, token_for: Callable[[str], str]
) -> None:
    body = b'{"query": "' + b" " * 200_000 + b'"}'
    response = client.post("/graphql", content=body,
                           headers={"Authorization": f"Bearer {token_for('TH-CA')}"})  # fmt: skip
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"
