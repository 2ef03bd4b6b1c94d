"""Verification is not an oracle: verifications count per request, per agency over sliding
windows and per verified subject, shared by every gateway on one database; the per-agency
request quota is the same mechanism (docs/security.md, "Verification is not an oracle")."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from gateway.http.app import create_app
from gateway.http.metrics import Metrics
from gateway.ratelimit import Check, DatabaseWindows, RateLimiter
from gateway.settings import AgencyRateLimits, ConfigError, RateLimits, Settings, load_settings
from sources.engines import make_engine
from tests.conftest import NOW
from tests.gateway.conftest import LiveServer, free_port, isolated
from tests.gateway.deployments import serving
from tests.gateway.http.test_audit import audit_of
from tests.gateway.http.test_workers import deployment

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

VERIFY = 'g{i}: verifyPerson(idNumber: "{key}", name: "{name}") {{ match }}'


def person(seeded: Path, offset: int = 0) -> tuple[str, str]:
    """(ID number, name) of a seeded person."""
    with closing(sqlite3.connect(seeded / "persons.db")) as db:
        row = db.execute(
            "SELECT id_number, name FROM persons ORDER BY id_number LIMIT 1 OFFSET ?", (offset,)
        ).fetchone()
    return str(row[0]), str(row[1])


def guesses(key: str, names: list[str]) -> str:
    """One operation verifying each of `names` against `key`."""
    return "{ " + " ".join(VERIFY.format(i=i, key=key, name=n) for i, n in enumerate(names)) + " }"


def post(server: LiveServer, body: object, token: str) -> httpx.Response:
    return server.client.post("/graphql", json=body, timeout=30,
                      headers={"Authorization": f"Bearer {token}"})  # fmt: skip


def codes(body: Any) -> list[str]:
    results = body if isinstance(body, list) else [body]
    return [e["extensions"]["code"] for r in results for e in r.get("errors") or ()]


@pytest.fixture
def own(seeded: Path, tmp_path: Path) -> Callable[..., LiveServer]:
    """`own(rate_limits)`: a gateway over the seeded sources with its own audit store (and so
    its own windows), started by the caller as a context manager."""

    def make(rate_limits: RateLimits | None = None, folder: Path = tmp_path) -> LiveServer:
        settings = isolated(Settings.demo(seeded), folder)
        if rate_limits is not None:
            settings = dataclasses.replace(settings, rate_limits=rate_limits)
        return LiveServer(create_app(settings, clock=lambda: NOW))

    return make


# -- per request ------------------------------------------------------------------------------


def test_a_batch_cannot_multiply_the_verification_limit(
    own: Callable[..., LiveServer], seeded: Path, tmp_path: Path, token_for: Callable[[str], str]
) -> None:
    key, _ = person(seeded)
    batch = [{"query": guesses(key, [f"猜{o}{i}" for i in range(3)])} for o in range(2)]
    with own() as server:
        response = post(server, batch, token_for("GZ-WATER"))
    assert response.status_code == 200
    body = response.json()
    assert codes(body) == ["QUERY_TOO_COMPLEX"]
    message = body["errors"][0]["message"]
    assert "verifies 6 claims; the limit is 5 per request, all operations of a batch" in message
    record = audit_of(tmp_path, response.headers["x-request-id"])
    assert record["decision"] == "refused"
    assert record["flags"] == []  # refused before anything ran: no verification was made


# -- the attack of issue 9 --------------------------------------------------------------------


def test_gz_water_cannot_recover_a_name_by_guessing_it(
    own: Callable[..., LiveServer], seeded: Path, tmp_path: Path, token_for: Callable[[str], str]
) -> None:
    """Issue 9: verify-only GZ-WATER recovered a 2-character name in 14 requests of 50 guesses.
    Now: at most 5 per request, 5 different claims per person a day, then refused (429)."""
    key, name = person(seeded, 3)
    others = [a + b for a in "王李张刘陈杨黄赵周吴" for b in "伟芳娜敏静丽强磊"]
    candidates = [n for n in others if n != name][:69]
    candidates.insert(20, name)  # the attacker's list holds the right name, well inside it
    token = token_for("GZ-WATER")
    answers = []
    with own() as server:
        for start in range(0, 70, 5):  # 14 requests, the most the limits allow in each
            answers.append(post(server, {"query": guesses(key, candidates[start:start + 5])},
                                token))  # fmt: skip
        metrics = httpx.get(f"{server.metrics_url}/metrics").text
    matched = [
        value for a in answers for value in ((a.json().get("data") or {}).values())
        if value and value["match"]
    ]  # fmt: skip
    assert matched == []  # the name was never confirmed
    assert answers[0].status_code == 200  # the first five claims were checked
    assert [a.status_code for a in answers[1:]] == [429] * 13
    for refused in answers[1:12]:  # this person: refused for a day
        assert int(refused.headers["retry-after"]) > 23 * 3600
        body = refused.json()
        assert body["data"] is None
        assert set(codes(body)) == {"RATE_LIMITED"}
        assert body["errors"][0]["extensions"]["retryAfter"] == int(refused.headers["retry-after"])
        assert "Art. 34(4)" in body["errors"][0]["message"]
    for refused in answers[12:]:  # 60 verifications in a minute: the agency's own window
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert refused.json()["errors"][0]["extensions"]["limit"] == "verifications_per_minute"
    record = audit_of(tmp_path, answers[1].headers["x-request-id"])
    assert record["decision"] == "refused"
    assert "RATE_LIMITED" in record["errorCodes"]
    assert f"misuse:verify-candidates:Person:{key}" in record["flags"]
    flagged = re.search(r'govgate_misuse_flags_total\{agency="GZ-WATER",rule="verify-candidates"\} '
                        r"(\d+)", metrics)  # fmt: skip
    assert flagged is not None
    assert int(flagged.group(1)) >= 11  # each refused request, at least


def test_an_agency_verifying_one_claim_again_is_not_refused(
    own: Callable[..., LiveServer], seeded: Path, token_for: Callable[[str], str]
) -> None:
    """A clerk who checks the same citizen's claim again, or corrects a typo, is no attacker."""
    key, name = person(seeded, 4)
    token = token_for("GZ-WATER")
    with own() as server:
        typo = post(server, {"query": guesses(key, [name + "x"])}, token).json()
        again = [post(server, {"query": guesses(key, [name])}, token) for _ in range(8)]
    assert typo["data"]["g0"]["match"] is False
    assert all(a.status_code == 200 and a.json()["data"]["g0"]["match"] is True for a in again)


def test_in_a_batch_only_the_refused_verification_carries_retry_after(
    own: Callable[..., LiveServer], seeded: Path, token_for: Callable[[str], str]
) -> None:
    limits = RateLimits(default=AgencyRateLimits(subject_candidates=1))
    key, name = person(seeded, 5)
    token = token_for("GZ-WATER")
    with own(limits) as server:
        post(server, {"query": guesses(key, [name])}, token)
        batch = [{"query": "{ me { agency { code } } }"}, {"query": guesses(key, ["别人"])}]
        response = post(server, batch, token)
    assert response.status_code == 200  # partly answered: not a 429
    assert "retry-after" not in response.headers
    me, refused = response.json()
    assert me["data"]["me"]["agency"]["code"] == "GZ-WATER"
    assert refused["data"] is None
    assert refused["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    assert refused["errors"][0]["extensions"]["retryAfter"] > 0


# -- per agency, over time --------------------------------------------------------------------


def test_the_agencys_verification_window_refuses_with_retry_after(
    own: Callable[..., LiveServer], seeded: Path, tmp_path: Path, token_for: Callable[[str], str]
) -> None:
    limits = RateLimits(default=AgencyRateLimits(verifications_per_minute=4))
    token = token_for("GZ-WATER")
    with own(limits) as server:
        first = post(server, {"query": guesses(person(seeded, 6)[0], ["甲", "乙", "丙"])}, token)
        second = post(server, {"query": guesses(person(seeded, 7)[0], ["甲", "乙"])}, token)
        others = post(server, {"query": "{ me { agency { code } } }"}, token)
    assert first.status_code == 200
    assert second.status_code == 429
    assert 1 <= int(second.headers["retry-after"]) <= 60
    error = second.json()["errors"][0]
    assert error["extensions"] == {
        "code": "RATE_LIMITED", "retryAfter": int(second.headers["retry-after"]),
        "limit": "verifications_per_minute",
    }  # fmt: skip
    assert "limit of 4 verifications per minute (this one asks for 2)" in error["message"]
    assert others.status_code == 200  # queries without verification are not counted
    record = audit_of(tmp_path, second.headers["x-request-id"])
    assert record["decision"] == "refused"
    assert record["flags"] == ["rate-limited:verifications_per_minute"]


def test_the_request_quota_is_per_agency_and_configurable_per_agency(
    own: Callable[..., LiveServer], token_for: Callable[[str], str]
) -> None:
    limits = RateLimits(
        default=AgencyRateLimits(requests_per_minute=3),
        agencies={"GZ-PSB": AgencyRateLimits(requests_per_minute=0)},
    )
    me = {"query": "{ me { agency { code } } }"}
    with own(limits) as server:
        th_ca = [post(server, me, token_for("TH-CA")).status_code for _ in range(4)]
        py_tax = post(server, me, token_for("PY-TAX")).status_code
        gz_psb = [post(server, me, token_for("GZ-PSB")).status_code for _ in range(6)]
        metrics = httpx.get(f"{server.metrics_url}/metrics").text
    assert th_ca == [200, 200, 200, 429]
    assert py_tax == 200  # another agency's quota is its own
    assert gz_psb == [200] * 6  # its own table switched the quota off
    assert 'govgate_rate_limited_total{agency="TH-CA",limit="requests_per_minute"} 1.0' in metrics


# -- shared by every gateway ------------------------------------------------------------------


def test_two_gateways_on_one_database_share_the_limits(
    own: Callable[..., LiveServer], seeded: Path, tmp_path: Path, token_for: Callable[[str], str]
) -> None:
    limits = RateLimits(default=AgencyRateLimits(verifications_per_minute=4))
    token = token_for("GZ-WATER")
    key, name = person(seeded, 8)
    with own(limits, tmp_path) as one, own(limits, tmp_path) as two:
        first = post(one, {"query": guesses(key, [name] * 1 + ["一", "二"])}, token)
        second = post(two, {"query": guesses(key, ["三", "四"])}, token)
        third = post(two, {"query": guesses(key, ["五"])}, token)
    assert first.status_code == 200
    assert second.status_code == 429  # 3 counted by the first gateway, 2 more would be 5
    assert third.status_code == 200  # the fourth fits


@pytest.mark.postgres
def test_gateway_processes_on_postgresql_admit_exactly_the_limit_under_concurrency(
    seeded: Path, tmp_path: Path, postgres_url: str, token_for: Callable[[str], str]
) -> None:
    config = deployment(tmp_path, seeded, postgres_url)
    config.config.write_text(
        config.config.read_text("utf-8") + "\n[rate_limits]\nverifications_per_minute = 7\n",
        "utf-8",
    )
    token = token_for("GZ-WATER")
    keys = [person(seeded, 20 + i)[0] for i in range(24)]
    with serving(config, "--workers", "2") as url:

        def verify(key: str) -> int:
            body = {"query": guesses(key, ["某某"])}
            headers = {"Authorization": f"Bearer {token}"}
            return httpx.post(f"{url}/graphql", json=body, headers=headers, timeout=30).status_code

        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(verify, keys))
    assert sorted(statuses) == [200] * 7 + [429] * 17


# -- when the windows cannot be counted -------------------------------------------------------


def test_verification_fails_closed_and_queries_stay_open_when_the_store_breaks(
    own: Callable[..., LiveServer], seeded: Path, tmp_path: Path, token_for: Callable[[str], str]
) -> None:
    limits = RateLimits(default=AgencyRateLimits(requests_per_minute=100))
    key, name = person(seeded, 9)
    with own(limits) as server:
        with closing(sqlite3.connect(tmp_path / "audit.db")) as db:
            db.execute("DROP TABLE rate_events")  # the windows' store breaks under the gateway
            db.commit()
        verify = post(server, {"query": guesses(key, [name])}, token_for("GZ-WATER"))
        query = post(server, {"query": "{ me { agency { code } } }"}, token_for("TH-CA"))
    assert verify.status_code == 503
    assert verify.headers["retry-after"] == "30"
    assert codes(verify.json()) == ["RATE_LIMIT_UNAVAILABLE"]
    assert audit_of(tmp_path, verify.headers["x-request-id"])["decision"] == "failed"
    assert query.status_code == 200  # the quota fails open
    assert audit_of(tmp_path, query.headers["x-request-id"])["decision"] == "allowed"


async def test_an_unreachable_store_refuses_verification_and_not_the_quota() -> None:
    engine = make_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/none")
    limits = RateLimits(default=AgencyRateLimits(requests_per_minute=10))
    limiter = RateLimiter(limits, DatabaseWindows(engine), Metrics())
    try:
        assert await limiter.admit_request("TH-CA", 0) is None
        throttle = await limiter.admit_request("GZ-WATER", 1)
        refusal = await limiter.admit_verification("GZ-WATER", "Person:1", {"name": "x"})
    finally:
        await engine.dispose()
    assert throttle is not None
    assert (throttle.code, throttle.status) == ("RATE_LIMIT_UNAVAILABLE", 503)
    assert refusal is not None
    assert refusal.code == "RATE_LIMIT_UNAVAILABLE"


# -- the windows themselves -------------------------------------------------------------------


@pytest.fixture
def windows(tmp_path: Path) -> Iterator[DatabaseWindows]:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'windows.db'}")
    store = DatabaseWindows(engine)
    asyncio.run(store.create())
    yield store
    asyncio.run(engine.dispose())


def test_a_window_slides_by_the_second(windows: DatabaseWindows) -> None:
    check = Check(name="n", key="k", seconds=60, limit=3)
    t = 1_000_000.0

    async def run() -> list[tuple[str | None, int]]:
        out = []
        for at in (t, t + 10, t + 20, t + 30, t + 59, t + 60, t + 61):
            verdict = await windows.admit([check], now=at)
            out.append((verdict.refused.name if verdict.refused else None, verdict.retry_after))
        return out

    assert asyncio.run(run()) == [
        (None, 0), (None, 0), (None, 0),
        ("n", 30),  # the oldest of three leaves at t + 60
        ("n", 1),
        (None, 0),  # t has left: room for one
        ("n", 9),  # t + 10 leaves at t + 80
    ]  # fmt: skip


def test_refused_checks_count_nothing_unless_they_count_members(windows: DatabaseWindows) -> None:
    minute = Check(name="m", key="v", seconds=60, limit=10, weight=4)
    hour = Check(name="h", key="v", seconds=3600, limit=5, weight=4)

    async def run() -> list[str | None]:
        out = []
        for at in (0.0, 1.0, 3601.0):
            verdict = await windows.admit([minute, hour], now=1e6 + at)
            out.append(verdict.refused.name if verdict.refused else None)
        for claim in ("a", "b", "c", "a"):
            subject = Check(name="s", key="p", seconds=100, limit=2, member=claim)
            verdict = await windows.admit([subject], now=1e6)
            out.append(verdict.refused.name if verdict.refused else None)
        return out

    # The hour refuses the second; nothing of it is counted, so an hour after the first the
    # window holds nothing. Members: a, b fit; c is refused but counted, so even a is refused.
    assert asyncio.run(run()) == [None, "h", None, None, None, "s", "s"]


# -- configuration ----------------------------------------------------------------------------


def test_rate_limits_are_read_per_deployment_and_per_agency(seeded: Path, tmp_path: Path) -> None:
    config = deployment(tmp_path, seeded, f"sqlite+aiosqlite:///{tmp_path / 'audit.db'}")
    base = config.config.read_text("utf-8")
    config.config.write_text(base + """
[rate_limits]
verifications_per_hour = 200
requests_per_minute = 600

[rate_limits.agencies.GZ-WATER]
verifications_per_hour = 5000
""", "utf-8")  # fmt: skip
    limits = load_settings(config.config).rate_limits
    assert limits.for_agency("TH-CA") == AgencyRateLimits(verifications_per_hour=200,
                                                          requests_per_minute=600)  # fmt: skip
    assert limits.for_agency("GZ-WATER") == AgencyRateLimits(verifications_per_hour=5000,
                                                             requests_per_minute=600)  # fmt: skip
    config.config.write_text(base + "\n[rate_limits]\nverification_per_hour = 5\n", "utf-8")
    with pytest.raises(ConfigError, match=r"'verification_per_hour' is an unknown setting"):
        load_settings(config.config)
    config.config.write_text(
        base + "\n[rate_limits.agencies.GZ-WATR]\nsubject_candidates = 2\n", "utf-8"
    )
    with pytest.raises(ConfigError, match=r"GZ-WATR\] names no agency.*GZ-WATER"):
        create_app(load_settings(config.config))
