"""Observability: `/metrics` in Prometheus text format on a listener of its own, in one process
and across workers, and JSON log lines that carry the request id the client was given."""

from __future__ import annotations

import dataclasses
import json
import shutil
import sqlite3
from collections import Counter
from typing import TYPE_CHECKING

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway.http.app import create_app
from gateway.settings import Settings
from policies.catalog import SHIPPED_CATALOG
from tests.conftest import NOW
from tests.gateway.conftest import LiveServer, isolated
from tests.gateway.deployments import serving
from tests.gateway.http.test_workers import deployment

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from prometheus_client import Metric

#: Reads one field of each source: one statement per source (see test_graphql_http.py).
LINKED = "{ persons(first: 5) { edges { node { name licenses { kind } " \
         "representedEntities { name } landRights { parcelCode } } } } }"  # fmt: skip
ALLOWED = '{ person(idNumber: "11010519491231002X") { name } }'
#: TH-CA may not read a person's phone: refused at validation, nothing runs.
REFUSED = "{ persons(first: 1) { edges { node { phone } } } }"
SOURCES = ("persons", "entities", "land", "licenses")

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def metered(seeded: Path, tmp_path: Path) -> Iterator[LiveServer]:
    """A gateway of its own (audit store, policy, metrics) over the seeded data, serving a
    copy of the shipped catalogue that the test may edit."""
    shutil.copy(SHIPPED_CATALOG, tmp_path / "catalog.yaml")
    shutil.copy(SHIPPED_CATALOG.with_name("guangzhou.rules.csv"), tmp_path / "catalog.rules.csv")
    settings = dataclasses.replace(
        Settings.demo(seeded), catalog=tmp_path / "catalog.yaml",
        rules=tmp_path / "catalog.rules.csv",
    )  # fmt: skip
    with LiveServer(create_app(isolated(settings, tmp_path), clock=lambda: NOW)) as server:
        yield server


def scrape(url: str) -> dict[str, Metric]:
    """`/metrics` of the metrics listener at `url`, parsed by prometheus_client's own parser,
    by family name."""
    response = httpx.get(f"{url}/metrics", timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {family.name: family for family in text_string_to_metric_families(response.text)}


def samples(families: dict[str, Metric], family: str) -> Samples:
    """The samples of `family` by (sample name, labels)."""
    if family not in families:
        return {}
    return {(s.name, frozenset(s.labels.items())): s.value for s in families[family].samples}


def value(families: dict[str, Metric], sample: str, **labels: str) -> float:
    """One sample's value (0 when absent, as Prometheus reads a counter never incremented)."""
    family = sample.removesuffix("_total").removesuffix("_count").removesuffix("_sum")
    return samples(families, family).get((sample, frozenset(labels.items())), 0.0)


def grew(before: dict[str, Metric], after: dict[str, Metric], sample: str, **labels: str) -> float:
    """How much one sample grew between two scrapes."""
    return value(after, sample, **labels) - value(before, sample, **labels)


def requests_by_label(families: dict[str, Metric]) -> dict[tuple[str, str, str], float]:
    """`govgate_requests_total` by (agency, endpoint, decision)."""
    if "govgate_requests" not in families:
        return {}
    return {
        (s.labels["agency"], s.labels["endpoint"], s.labels["decision"]): s.value
        for s in families["govgate_requests"].samples
        if s.name == "govgate_requests_total"
    }


def post(url: str, query: str, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.post(f"{url}/graphql", json={"query": query}, headers=headers, timeout=30)


def send_known_requests(url: str, token_for: Callable[[str], str]) -> dict[tuple[str, ...], int]:
    """3 allowed, 2 refused, 1 unauthenticated; the counts expected, by label values."""
    for _ in range(3):
        assert "errors" not in post(url, ALLOWED, token_for("GZ-PSB")).json()
    for _ in range(2):
        answer = post(url, REFUSED, token_for("TH-CA")).json()
        assert answer["errors"][0]["extensions"]["code"] == "FORBIDDEN_FIELD"
    assert post(url, ALLOWED, None).status_code == 401
    return {
        ("GZ-PSB", "/graphql", "allowed"): 3,
        ("TH-CA", "/graphql", "refused"): 2,
        ("none", "/graphql", "unauthenticated"): 1,
    }


def test_requests_are_counted_by_agency_endpoint_and_decision(
    metered: LiveServer, token_for: Callable[[str], str]
) -> None:
    expected = send_known_requests(metered.url, token_for)
    families = scrape(metered.metrics_url)
    assert requests_by_label(families) == expected
    for (_, endpoint, decision), count in expected.items():
        labels = {"endpoint": endpoint, "decision": decision}
        timed = value(families, "govgate_request_duration_seconds_count", **labels)
        assert timed == count
        assert value(families, "govgate_request_duration_seconds_sum", **labels) > 0
    # Scraping is not a request to the data: it counts nothing.
    assert requests_by_label(scrape(metered.metrics_url)) == expected


def test_every_request_counts_as_an_audit_record_written(
    metered: LiveServer, token_for: Callable[[str], str]
) -> None:
    sent = sum(send_known_requests(metered.url, token_for).values())
    families = scrape(metered.metrics_url)
    assert value(families, "govgate_audit_records_written_total") == sent
    batches = value(families, "govgate_audit_batches_total")
    assert 1 <= batches <= sent
    # One request at a time: each batch is seen (and timed) by the request it carried.
    assert value(families, "govgate_audit_commit_duration_seconds_count") == batches
    assert value(families, "govgate_audit_last_commit_seconds") > 0
    assert value(families, "govgate_audit_records_pending") == 0


def test_sql_statements_are_counted_and_timed_per_source(
    metered: LiveServer, token_for: Callable[[str], str]
) -> None:
    post(metered.url, LINKED, token_for("GZ-PSB"))  # first use also reads freshness (cached 60 s)
    before = scrape(metered.metrics_url)
    metered.statements.clear()
    answer = post(metered.url, LINKED, token_for("GZ-PSB")).json()
    assert len(answer["data"]["persons"]["edges"]) == 5
    after = scrape(metered.metrics_url)
    sent = {}
    for source in SOURCES:
        counted = grew(before, after, "govgate_sql_statements_total", source=source)
        timed = grew(before, after, "govgate_sql_statement_duration_seconds_count", source=source)
        assert timed == counted, source
        sent[source] = counted
    assert sent == {source: metered.statements[source] for source in SOURCES}
    assert sent == dict.fromkeys(SOURCES, 1)
    # The audit store's own statements (the record, the policy store) are counted apart.
    assert value(after, "govgate_sql_statements_total", source="audit") > 0


def policy_versions(families: dict[str, Metric]) -> dict[str, float]:
    return {s.labels["version"]: s.value for s in families["govgate_policy_info"].samples}


def test_the_policy_served_is_exposed_and_follows_a_reload(
    metered: LiveServer, token_for: Callable[[str], str], tmp_path: Path
) -> None:
    old = httpx.get(f"{metered.url}/healthz").json()["policyVersion"]
    families = scrape(metered.metrics_url)
    assert policy_versions(families) == {old: 1}
    first_row = value(families, "govgate_policy_id")
    assert first_row >= 1
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(
        catalog.read_text("utf-8").replace('version: "2026.11"', 'version: "2026.12"', 1),
        "utf-8",
    )
    reload = httpx.post(f"{metered.url}/admin/policy/reload", timeout=60,
                        headers={"Authorization": f"Bearer {token_for('GZ-DATA')}"})  # fmt: skip
    assert reload.status_code == 200, reload.text
    new = reload.json()["policyVersion"]
    assert new != old
    assert httpx.get(f"{metered.url}/healthz").json()["policyVersion"] == new
    families = scrape(metered.metrics_url)
    assert policy_versions(families) == {new: 1}  # the old version's series is gone
    assert value(families, "govgate_policy_id") == first_row + 1
    assert requests_by_label(families) == {("GZ-DATA", "/admin/policy/reload", "allowed"): 1}


def test_metrics_of_one_gateway_do_not_leak_into_another(
    metered: LiveServer, token_for: Callable[[str], str], seeded: Path, tmp_path: Path
) -> None:
    send_known_requests(metered.url, token_for)
    (tmp_path / "other").mkdir()
    other = isolated(Settings.demo(seeded), tmp_path / "other")
    with LiveServer(create_app(other, clock=lambda: NOW)) as second:
        families = scrape(second.metrics_url)
    assert requests_by_label(families) == {}
    assert value(families, "govgate_audit_records_written_total") == 0


# -- several workers ---------------------------------------------------------------------------


def test_the_parent_of_two_workers_reports_their_totals(
    seeded: Path, tmp_path: Path, token_for: Callable[[str], str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    served = deployment(tmp_path, seeded, f"sqlite+aiosqlite:///{tmp_path / 'audit.db'}")
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # where `govgate serve` makes its folder
    sent = 20
    with serving(served, "--workers", "2") as url:
        (folder,) = tmp_path.glob("govgate-metrics-*")
        token = token_for("GZ-PSB")
        for _ in range(sent):  # a new connection each: the workers take turns accepting
            assert "errors" not in post(url, ALLOWED, token).json()
        version = httpx.get(f"{url}/healthz").json()["policyVersion"]
        writers = {path.name.split("_")[-1] for path in folder.glob("counter_*.db")}
        assert len(writers) == 2, writers  # both workers write their counts there
        for _ in range(8):
            families = scrape(served.metrics_url)
            assert requests_by_label(families) == {("GZ-PSB", "/graphql", "allowed"): sent}
            assert value(families, "govgate_request_duration_seconds_count",
                         endpoint="/graphql", decision="allowed") == sent  # fmt: skip
            assert value(families, "govgate_audit_records_written_total") == sent
            assert value(families, "govgate_audit_records_pending") == 0
            assert policy_versions(families) == {version: 1}
    assert not folder.exists()  # removed when the server stops


# -- logs ----------------------------------------------------------------------------------------


def test_served_logs_are_json_lines_with_the_request_id_of_the_answer(
    seeded: Path, tmp_path: Path, token_for: Callable[[str], str]
) -> None:
    sqlite3.connect(tmp_path / "persons.db").close()  # a database without the persons table
    served = deployment(tmp_path, seeded, f"sqlite+aiosqlite:///{tmp_path / 'audit.db'}")
    text = served.config.read_text("utf-8")
    served.config.write_text(text.replace(f"{seeded}/persons.db", f"{tmp_path}/persons.db"))
    stderr = tmp_path / "stderr.log"
    with serving(served, stderr=stderr) as url:
        response = httpx.post(
            f"{url}/graphql", json={"query": ALLOWED}, timeout=30,
            headers={"Authorization": f"Bearer {token_for('GZ-PSB')}", "X-Request-Id": "req-7"},
        )  # fmt: skip
    request_id = response.headers["x-request-id"]
    error = response.json()["errors"][0]
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id}
    lines = [json.loads(line) for line in stderr.read_text("utf-8").splitlines()]
    assert all({"time", "level", "logger", "message"} <= line.keys() for line in lines)
    assert all(line["time"].endswith("Z") for line in lines)
    ours = [line for line in lines if line.get("request_id") == request_id]
    (logged,) = [line for line in ours if line["logger"] == "govgate.gateway"]
    assert logged["level"] == "ERROR"
    assert request_id in logged["message"]
    assert "Traceback" in logged["exc"]
    assert "no such table" in logged["exc"]
    access = [line for line in lines if line["logger"] == "uvicorn.access"]
    assert [(a["method"], a["path"], a["status"]) for a in access][-1] == ("POST", "/graphql", 200)
    # The answer is released inside the request's log context: its access line carries the id.
    assert access[-1]["request_id"] == request_id
    assert Counter(line["logger"] for line in lines)["uvicorn.error"] >= 1  # startup, as JSON
