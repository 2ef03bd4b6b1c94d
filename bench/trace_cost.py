"""What traces cost a request: the spans of one request, with traces off and on.

One request's marks as the gateway makes them (request, plan with two notes, one statement,
vouchers, audit.commit, and an audit.batch of one), repeated; CPU time of the whole process
(every thread: the exporter's encoding and sending count), the last batch sent inside the
measure. A collector on a local port receives the OTLP/HTTP bodies and throws them away.

    PYTHONPATH=. .venv/bin/python bench/trace_cost.py
"""

from __future__ import annotations

import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from gateway import tracing
from gateway.settings import TracingOptions

ATTRIBUTES: dict[str, tracing.Attribute] = {
    "http.request.method": "POST",
    "http.route": "/graphql",
    "govgate.request_id": "0123456789abcdef",
}
NO_CALLER: dict[str, str] = {}  # no traceparent: sample_ratio decides


class _Sink(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", "0")))
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        pass


def request() -> None:
    """The marks one planned request makes."""
    with tracing.span("request", ATTRIBUTES, parent=NO_CALLER) as traced:
        with tracing.span("plan"):
            tracing.note("plan.hash", "0123456789abcdef")
            tracing.note("plan.cache", "hit")
        with tracing.span("statement", {"db.source": "persons", "db.system": "sqlite"}) as s:
            s.set("db.rows", 1)
        with tracing.span("vouchers") as vouchers:
            vouchers.set("voucher.issued", False)
        with tracing.span("audit.commit"):
            pass
        traced.set("http.response.status_code", 200)
        traced.set("govgate.agency", "GZ-PSB")
    with tracing.span("audit.batch", {"audit.batch_size": 1}, root=True):
        pass


def cpu_per_request(count: int, *, paced: bool) -> float:
    """Microseconds of process CPU per request; `paced`: a pause every 100 requests, so the
    exporter keeps up as it would at a few thousand requests a second."""
    started = time.process_time()
    for number in range(count):
        request()
        if paced and number % 100 == 0:
            time.sleep(0.05)
    return (time.process_time() - started) / count * 1e6


def main() -> None:
    logging.basicConfig(level=logging.ERROR)
    for _ in range(3):
        print(f"off: {cpu_per_request(20_000, paced=False):.1f} µs CPU per request")
    sink = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{sink.server_address[1]}/v1/traces"
    try:
        for ratio in (1.0, 1.0, 1.0, 0.1, 0.0):
            tracing.start(TracingOptions(enabled=True, endpoint=endpoint, sample_ratio=ratio))
            started = time.process_time()
            per_request = cpu_per_request(2_000, paced=True)
            tracing.stop()  # the last batch sent: its CPU counts
            total = (time.process_time() - started) / 2_000 * 1e6
            print(f"on, sample_ratio {ratio}: {per_request:.0f} µs CPU per request while "
                  f"answering, {total:.0f} µs with the last batch sent")  # fmt: skip
    finally:
        sink.shutdown()


if __name__ == "__main__":
    main()
