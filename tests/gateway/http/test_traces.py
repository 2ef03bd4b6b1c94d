"""OpenTelemetry traces over real sockets: a gateway on a port sends OTLP/HTTP protobuf to a
collector started here, which decodes what arrives. The spans and their nesting, what they say,
what they never say (the ID number asked for, variables, names returned), the caller's
`traceparent` followed; a collector that is down costs requests nothing; traces off create
nothing."""

from __future__ import annotations

import dataclasses
import logging
import re
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import closing
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from gateway import tracing
from gateway.graphql.plan.cache import shape_hash
from gateway.http.app import create_app
from gateway.http.middleware import Traced
from gateway.settings import Settings, TracingOptions
from gateway.tracing import TracingUnavailableError
from tests.conftest import NOW
from tests.gateway.conftest import LiveServer, free_port, isolated

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    import httpx
    from opentelemetry.proto.trace.v1.trace_pb2 import Span

PERSON = "query($id: String!) { person(idNumber: $id) { name divisionCode } }"
LICENCES = "{ licenses(first: 3) { edges { node { licenseNumber kind status } } } }"
#: A caller's W3C trace context: its trace id and the caller's span, sampled.
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"
UNSAMPLED = "0af7651916cd43dd8448eb211c80319c"


class Collector:
    """A collector's OTLP/HTTP traces endpoint on a free port: every body it receives."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        collector = self

        class Receive(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                collector.bodies.append(self.rfile.read(length))
                collector.headers.append(dict(self.headers))
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.headers: list[dict[str, str]] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Receive)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/traces"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Collector:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def spans(self) -> list[Span]:
        """Every span received, decoded as the OTLP protobuf it must be."""
        found: list[Span] = []
        for body in self.bodies:
            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            for resource in request.resource_spans:
                for scoped in resource.scope_spans:
                    found.extend(scoped.spans)
        return found

    def service_names(self) -> set[str]:
        names = set()
        for body in self.bodies:
            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            for resource in request.resource_spans:
                names |= {
                    a.value.string_value
                    for a in resource.resource.attributes
                    if a.key == "service.name"
                }
        return names


def attributes(span: Span) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for item in span.attributes:
        value = item.value
        values[item.key] = getattr(value, value.WhichOneof("value") or "string_value")
    return values


def traced_gateway(seeded: Path, folder: Path, **options: Any) -> Callable[[], LiveServer]:
    settings = isolated(Settings.demo(seeded), folder)
    settings = dataclasses.replace(settings, tracing=TracingOptions(enabled=True, **options))
    return lambda: LiveServer(create_app(settings, clock=lambda: NOW))


def ask(
    server: LiveServer,
    token: str,
    query: str,
    variables: dict[str, Any] | None = None,
    **headers: str,
) -> httpx.Response:
    """POST `query` with `token` (and any other `headers`) to `server`'s /graphql."""
    sent = {"Authorization": f"Bearer {token}", **headers}
    return server.client.post("/graphql", json={"query": query, "variables": variables},
                              headers=sent)  # fmt: skip


@pytest.fixture
def someone(seeded: Path) -> tuple[str, str]:
    """The ID number and name of a person in the seeded data."""
    with closing(sqlite3.connect(seeded / "persons.db")) as db:
        row = db.execute("SELECT id_number, name FROM persons LIMIT 1").fetchone()
    return str(row[0]), str(row[1])


@pytest.fixture
def collector() -> Iterator[Collector]:
    with Collector() as running:
        yield running


def test_a_request_is_one_trace_of_plan_statements_vouchers_and_audit_commit(
    seeded: Path,
    tmp_path: Path,
    token_for: Callable[[str], str],
    collector: Collector,
    someone: tuple[str, str],
) -> None:
    id_number, name = someone
    serve = traced_gateway(seeded, tmp_path, endpoint=collector.url,
                           service_name="govgate-test", headers={"x-api-key": "k1"})  # fmt: skip
    inline = f'{{ person(idNumber: "{id_number}") {{ name divisionCode }} }}'
    with serve() as server:
        psb = token_for("GZ-PSB")
        caller = f"00-{TRACE_ID}-{CALLER_SPAN}-01"
        person = ask(server, psb, PERSON, {"id": id_number}, traceparent=caller)
        again = ask(server, psb, PERSON, {"id": id_number})
        literal = ask(server, psb, inline)
        licences = ask(server, token_for("GZ-AMR"), LICENCES)
        unsampled = ask(server, psb, PERSON, {"id": id_number},
                        traceparent=f"00-{UNSAMPLED}-{CALLER_SPAN}-00")  # fmt: skip
        unknown = server.client.get(f"/person/{id_number}")
    # Stopping the gateway sent every span still buffered.
    assert person.json()["data"]["person"]["name"] == name
    assert again.status_code == literal.status_code == licences.status_code == 200
    assert "voucher" in licences.json()["extensions"]
    assert unknown.status_code == 404
    assert collector.service_names() == {"govgate-test"}
    assert all(h.get("x-api-key") == "k1" for h in collector.headers)
    assert all(h.get("content-type") == "application/x-protobuf" for h in collector.headers)

    spans = collector.spans()
    by_id = {s.span_id: s for s in spans}
    requests = {attributes(s)["govgate.request_id"]: s for s in spans if s.name == "request"}
    # The caller decided not to sample its trace: none of that request is recorded.
    assert unsampled.status_code == 200
    assert all(s.trace_id.hex() != UNSAMPLED for s in spans)
    assert set(requests) == {
        r.headers["x-request-id"] for r in (person, again, literal, licences, unknown)
    }

    def children(parent: Span) -> list[Span]:
        return [s for s in spans if s.parent_span_id == parent.span_id]

    # The caller's traceparent is the request span's parent: one trace with the caller's.
    first = requests[person.headers["x-request-id"]]
    assert first.trace_id.hex() == TRACE_ID
    assert first.parent_span_id.hex() == CALLER_SPAN
    assert attributes(first) == {
        "http.request.method": "POST",
        "http.route": "/graphql",
        "govgate.request_id": person.headers["x-request-id"],
        "http.response.status_code": 200,
        "govgate.agency": "GZ-PSB",
    }
    under = sorted(s.name for s in children(first))
    assert under == ["audit.commit", "plan", "statement", "vouchers"]
    plan = next(s for s in children(first) if s.name == "plan")
    assert attributes(plan)["plan.cache"] in {"compile", "hit"}
    statement = next(s for s in children(first) if s.name == "statement")
    assert attributes(statement) == {"db.source": "persons", "db.system": "sqlite", "db.rows": 1}
    vouchers = next(s for s in children(first) if s.name == "vouchers")
    assert attributes(vouchers) == {"voucher.issued": False}  # person data earns none

    # Without a traceparent a request starts its own trace; the same operation hits the cache
    # and names the same plan; an inline ID number does not change the plan's name.
    second = requests[again.headers["x-request-id"]]
    assert not second.parent_span_id
    assert second.trace_id.hex() != TRACE_ID
    second_plan = next(s for s in children(second) if s.name == "plan")
    assert attributes(second_plan)["plan.cache"] == "hit"
    assert attributes(second_plan)["plan.hash"] == attributes(plan)["plan.hash"]
    inline_plan = next(
        s for s in children(requests[literal.headers["x-request-id"]]) if s.name == "plan"
    )
    assert attributes(inline_plan)["plan.cache"] == "compile"
    assert len(attributes(inline_plan)["plan.hash"]) == 16

    licence_request = requests[licences.headers["x-request-id"]]
    licence_vouchers = next(s for s in children(licence_request) if s.name == "vouchers")
    assert attributes(licence_vouchers) == {"voucher.issued": True}
    assert attributes(licence_request)["govgate.agency"] == "GZ-AMR"
    assert [attributes(s)["db.source"] for s in children(licence_request)
            if s.name == "statement"] == ["licenses"]  # fmt: skip

    # An unknown path is traced as `other`: a path may hold anything a caller typed.
    refused = requests[unknown.headers["x-request-id"]]
    assert attributes(refused)["http.route"] == "other"
    assert attributes(refused)["http.response.status_code"] == 404

    # The group commits are traces of their own, with their size.
    batches = [s for s in spans if s.name == "audit.batch"]
    assert batches
    assert sum(attributes(s)["audit.batch_size"] for s in batches) >= 5
    assert all(s.parent_span_id == b"" for s in batches)
    roots = {"request", "audit.batch"}
    assert all(s.parent_span_id in by_id for s in spans if s.name not in roots)

    # Nothing a caller sent or was answered is in the exported bytes.
    exported = b"".join(collector.bodies)
    for secret in (id_number, name, "divisionCode", "licenseNumber", "Bearer", "idNumber"):
        assert secret.encode() not in exported, secret


def test_a_collector_that_is_down_costs_requests_nothing(
    seeded: Path,
    tmp_path: Path,
    token_for: Callable[[str], str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}/v1/traces"  # nothing listens there
    serve = traced_gateway(seeded, tmp_path, endpoint=nowhere, timeout_s=1.0)
    with caplog.at_level(logging.WARNING, logger="opentelemetry"), serve() as server:
        ask(server, token_for("GZ-AMR"), LICENCES)
        started = time.monotonic()
        answers = [ask(server, token_for("GZ-AMR"), LICENCES) for _ in range(20)]
        took = time.monotonic() - started
        stopping = time.monotonic()
    stopped = time.monotonic() - stopping
    assert [a.status_code for a in answers] == [200] * 20
    assert all("voucher" in a.json()["extensions"] for a in answers)
    # Twenty answers in far less than one export's timeout each: no request waited for one.
    assert took < 5.0, took
    # Stopping gives the last export its timeout, no more (uvicorn's own shutdown aside).
    assert stopped < 10.0, stopped
    failures = [r for r in caplog.records if r.name.startswith("opentelemetry.exporter")]
    assert failures, "the failed export is logged"
    assert not tracing.recording()


def test_with_traces_off_nothing_is_created_or_sent(
    seeded: Path, tmp_path: Path, token_for: Callable[[str], str], collector: Collector
) -> None:
    settings = isolated(Settings.demo(seeded), tmp_path)
    settings = dataclasses.replace(settings, tracing=TracingOptions(endpoint=collector.url))
    app = create_app(settings, clock=lambda: NOW)
    assert Traced not in [cast("object", m.cls) for m in app.user_middleware]
    with LiveServer(app) as server:
        answer = ask(server, token_for("GZ-AMR"), LICENCES)
        assert answer.status_code == 200
        assert not tracing.recording()
        # The no-op path: the one shared object, whatever is asked.
        assert tracing.span("request") is tracing.span("plan", {"plan.cache": "hit"})
    assert collector.bodies == []


def test_serving_without_traces_loads_no_opentelemetry() -> None:
    probe = (
        "import sys, gateway.http.app, gateway.graphql.plan, gateway.trust.audit.writer; "
        "print(any(m.startswith('opentelemetry') for m in sys.modules))"
    )
    repo = Path(__file__).resolve().parents[3]
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True, cwd=repo)  # fmt: skip
    assert loaded.stdout.strip() == "False"


def test_a_plans_name_in_traces_ignores_the_literals_written_in_it() -> None:
    one = shape_hash('{ person(idNumber: "440106199001011234") { name } }', None)
    other = shape_hash('{ person(idNumber: "11010519491231002X") { name } }', None)
    paged = shape_hash("{ persons(first: 3) { edges { node { name } } } }", None)
    assert one == other
    assert one != shape_hash('{ person(idNumber: "440106199001011234") { phone } }', None)
    assert one != shape_hash('{ person(idNumber: "440106199001011234") { name } }', "Named")
    assert paged == shape_hash("{ persons(first: 100) { edges { node { name } } } }", None)
    assert re.fullmatch(r"[0-9a-f]{16}", one)


def test_traces_on_without_opentelemetry_refuse_to_start_saying_what_to_install(
    seeded: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As on a machine where govgate was installed without its tracing extra.
    for name in ["opentelemetry.sdk", *(m for m in sys.modules if m.startswith("opentelemetry."))]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.delitem(sys.modules, "gateway.tracing._otel", raising=False)
    settings = isolated(Settings.demo(seeded), tmp_path)
    settings = dataclasses.replace(settings, tracing=TracingOptions(enabled=True))
    with pytest.raises(TracingUnavailableError, match=r"pip install 'govgate\[tracing\]'"):
        create_app(settings, clock=lambda: NOW)
    create_app(dataclasses.replace(settings, tracing=TracingOptions()), clock=lambda: NOW)
