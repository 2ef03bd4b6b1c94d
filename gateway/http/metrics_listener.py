"""`/metrics` on a listener of its own, never on the agencies' port (docs/security.md).

The metrics name every agency and how often it calls, which one agency must not learn about
another; so the gateway's public port answers `/metrics` with 404 like any unknown path, and
Prometheus scrapes this listener instead: loopback by default (`[metrics] listen`). It runs in
a thread of the serving process: the only process under `--workers 1`, the parent under
`--workers N`, which reads every worker's numbers from the shared folder.
"""

from __future__ import annotations

import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING

from gateway.errors import GatewayError
from gateway.http.metrics import CONTENT_TYPE

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["MetricsListener"]

log = logging.getLogger("govgate.gateway")


class MetricsListener:
    """Serves `exposition()` at `GET /metrics` on `address` until closed."""

    def __init__(self, address: tuple[str, int], exposition: Callable[[], bytes]) -> None:
        self.address = address
        self.exposition = exposition
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Bind and serve in a daemon thread; GatewayError (a sentence) when it cannot bind."""
        host, port = self.address
        try:
            self._server = ThreadingHTTPServer((host, port), _handler(self.exposition))
        except OSError as error:
            raise GatewayError(
                f"Cannot listen for metrics on {host}:{port} ({error.strerror}); set [metrics] "
                'listen to a free address, or to "" to serve no metrics (docs/deploy-config.md).'
            ) from None
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="govgate-metrics", daemon=True
        )
        self._thread.start()
        log.info("metrics on http://%s:%d/metrics", host, self.port)

    @property
    def port(self) -> int:
        """The port bound (the one asked for, or the one chosen for port 0)."""
        return int(self._server.server_address[1]) if self._server else self.address[1]

    def close(self) -> None:
        """Stop serving and release the port."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def _handler(exposition: Callable[[], bytes]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?", 1)[0] != "/metrics":
                self._answer(404, b"Only /metrics is served here.\n", "text/plain")
                return
            try:
                body = exposition()
            except Exception:  # a scrape must not take the thread down; the log says why
                log.exception("metrics exposition failed")
                self._answer(500, b"The metrics could not be read; see the gateway's log.\n",
                             "text/plain")  # fmt: skip
                return
            self._answer(200, body, CONTENT_TYPE)

        def _answer(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Scrapes every few seconds are not worth a log line each."""

    return Handler
