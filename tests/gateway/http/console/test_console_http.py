"""The console's safety over plain HTTP: sign-in, the session cookie, CSRF and Origin checks,
who may see what, the page's headers, and an audit record for every console request."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import httpx
import pytest

from gateway.http.console.rendering import CONTENT_SECURITY_POLICY
from tests.gateway.workflows.gateway_fixtures import (
    ADMIN,
    MARRIAGE,
    POLICE,
    TIANHE_CA,
    Agency,
    ConsoleSession,
    Deployment,
    csrf_of,
    make_deployment,
    serve,
)

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from tests.gateway.conftest import LiveServer

FILE = """mutation($f: [String!]!) {
  requestAccess(fields: $f, duty: "civil-affairs", reason: "review") { id }
}"""


@pytest.fixture
def deployment(tmp_path: Path, seeded: Path) -> Deployment:
    return make_deployment(tmp_path, seeded)


@pytest.fixture
def live(deployment: Deployment) -> Iterator[LiveServer]:
    with serve(deployment) as server:
        yield server


def browser(live: LiveServer) -> httpx.Client:
    return httpx.Client(base_url=live.url, timeout=30, follow_redirects=False)


def test_the_session_cookie_is_httponly_samesite_strict_and_scoped_to_the_console(
    deployment: Deployment, live: LiveServer
) -> None:
    with browser(live) as http:
        page = http.get("/console")
        assert page.status_code == 200
        assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert page.headers["x-frame-options"] == "DENY"
        assert page.headers["cache-control"] == "no-store"
        assert "<script" not in page.text  # the console runs no script at all
        answer = http.post("/console/sign-in", data={"csrf": csrf_of(page.text),
                           "token": deployment.token(ADMIN)})  # fmt: skip
        assert answer.status_code == 303
        cookie = next(v for k, v in answer.headers.multi_items()
                      if k == "set-cookie" and v.startswith("govgate_console="))  # fmt: skip
        flags = {part.strip().lower() for part in cookie.split(";")[1:]}
        assert {"httponly", "samesite=strict", "path=/console"} <= flags
        assert any(flag.startswith("max-age=") for flag in flags)
        inbox = http.get("/console")
        assert "Sign out" in inbox.text
        out = http.post("/console/sign-out", data={"csrf": csrf_of(inbox.text)})
        assert out.status_code == 303
        assert http.get("/console").text.count('name="token"') == 1  # signed out: sign-in form


def test_sign_in_without_the_forms_token_or_from_another_site_is_refused(
    deployment: Deployment, live: LiveServer
) -> None:
    with browser(live) as http:
        page = http.get("/console")
        forged = http.post("/console/sign-in", data={"csrf": "0" * 64,
                           "token": deployment.token(ADMIN)})  # fmt: skip
        assert forged.status_code == 403
        assert "govgate_console=" not in forged.headers.get("set-cookie", "")
        elsewhere = http.post(
            "/console/sign-in", data={"csrf": csrf_of(page.text), "token": deployment.token(ADMIN)},
            headers={"Origin": "https://evil.example"},
        )  # fmt: skip
        assert elsewhere.status_code == 403
        bad = http.post("/console/sign-in", data={"csrf": csrf_of(http.get("/console").text),
                        "token": "not-a-token"})  # fmt: skip
        assert bad.status_code == 401
        assert "malformed" in bad.text.lower() or "token" in bad.text.lower()


def test_a_step_without_the_sessions_csrf_token_is_refused_and_nothing_is_recorded(
    deployment: Deployment, live: LiveServer
) -> None:
    with httpx.Client(base_url=live.url, timeout=30) as http:
        case = Agency(http, deployment.token(TIANHE_CA)).ask(FILE, f=["Person.phone"])
    case_id = case["data"]["requestAccess"]["id"]
    admin = ConsoleSession(live.url, deployment.token(ADMIN))
    steps_before = len(deployment.audit("content LIKE '%workflow:access%'"))
    forged = admin.http.post(f"/console/requests/{case_id}/forward",
                             data={"csrf": "f" * 64, "reference": "R-1"})  # fmt: skip
    assert forged.status_code == 403
    other_site = admin.http.post(
        f"/console/requests/{case_id}/forward", data={"csrf": admin.csrf, "reference": "R-1"},
        headers={"Origin": "http://attacker.example"},
    )  # fmt: skip
    assert other_site.status_code == 403
    assert len(deployment.audit("content LIKE '%workflow:access%'")) == steps_before
    page = admin.page(f"/console/requests/{case_id}")
    assert 'id="status" class="filed"' in page.text
    admin.close()


def test_only_the_administrator_and_providers_get_the_console_and_providers_see_their_cases(
    deployment: Deployment, live: LiveServer
) -> None:
    with httpx.Client(base_url=live.url, timeout=30) as http:
        tianhe = Agency(http, deployment.token(TIANHE_CA))
        phone = tianhe.ask(FILE, f=["Person.phone"])["data"]["requestAccess"]["id"]
    with browser(live) as http:
        page = http.get("/console")
        http.post("/console/sign-in", data={"csrf": csrf_of(page.text),
                  "token": deployment.token(TIANHE_CA)})  # fmt: skip
        inbox = http.get("/console")
        assert inbox.status_code == 403
        assert "TH-CA provides none" in inbox.text
    police = ConsoleSession(live.url, deployment.token(POLICE))  # provides Person.phone
    marriage = ConsoleSession(live.url, deployment.token(MARRIAGE))
    assert phone in police.page("/console").text
    assert phone not in marriage.page("/console").text
    assert marriage.page(f"/console/requests/{phone}").status_code == 404  # as if absent
    assert marriage.page("/console/catalog").status_code == 403  # the administrator's
    columns = marriage.page("/console/grants").text
    assert "Person.maritalStatus" in columns
    assert "Person.phone" not in columns
    assert marriage.page("/console/grants/explain", agency=TIANHE_CA,
                         field="Person.phone").status_code == 404  # fmt: skip
    police.close()
    marriage.close()


def test_every_console_request_leaves_an_audit_record_with_the_agency_and_officer(
    deployment: Deployment, live: LiveServer
) -> None:
    admin = ConsoleSession(live.url, deployment.token(ADMIN, "admin-07"))
    admin.page("/console/grants")
    explained = admin.page("/console/grants/explain", agency="GZ-HPF",
                           field="Person.maritalStatus")  # fmt: skip
    assert "complaint 2026-031" in explained.text  # the deny rule that decides the cell
    admin.close()
    records = [json.loads(c) for c in deployment.audit("content LIKE '%/console%'")]
    paths = [r["endpoint"] for r in records]
    assert paths == ["/console", "/console/sign-in", "/console", "/console/grants",
                     "/console/grants/explain"]  # fmt: skip
    assert all(r["agency"] == ADMIN and r["officer"] == "admin-07" for r in records[1:])
    assert records[0]["decision"] == "allowed"  # the sign-in page itself reads nothing
    assert "console:explain" in records[-1]["flags"]
