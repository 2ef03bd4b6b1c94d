"""Serving a deployment with one or many worker processes (`govgate serve --workers N`).

Workers are separate processes (uvicorn's), each with its own event loop, connection pools and
audit writer; they share the sources, the audit store and the published policy through the
databases (gateway.policy.sync), so any number of them, on any number of machines, serve one
policy and write one audit store (a chain per process). Before the workers start, the parent
prepares the shared state once (tables, the signing key, the policy), so workers never race to
create them, and a fresh folder where every worker writes its metrics for the parent's metrics
listener to add up (gateway.http.metrics, gateway.http.metrics_listener). `serve` runs it all
under govgate's own uvicorn protocol (gateway.http.slow_clients).
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import uvicorn
from uvicorn.supervisors import Multiprocess

from gateway.errors import GatewayError
from gateway.http.app import Gateway, create_app
from gateway.http.metrics import MULTIPROCESS_VARIABLE, workers_exposition
from gateway.http.metrics_listener import MetricsListener
from gateway.http.slow_clients import ServerConfig
from gateway.settings import load_settings

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from starlette.applications import Starlette

    from gateway.settings import Settings

__all__ = [
    "CONFIG_VARIABLE",
    "app_from_environment",
    "prepare",
    "serve",
    "shared_metrics_folder",
]

#: The environment variable naming the deployment file for worker processes.
CONFIG_VARIABLE = "GOVGATE_CONFIG"


def app_from_environment() -> Starlette:
    """The app of the deployment named by $GOVGATE_CONFIG (uvicorn's factory for workers)."""
    path = os.environ.get(CONFIG_VARIABLE)
    if not path:
        raise GatewayError(
            f"{CONFIG_VARIABLE} is not set; start workers with `govgate serve --config FILE "
            "--workers N`."
        )
    logging.captureWarnings(True)  # into the worker's log, formatted as `govgate serve` says
    return create_app(load_settings(Path(path)))


def serve(
    settings: Settings,
    *,
    workers: int = 1,
    config: Path | None = None,
    log_config: object = None,
    approval: str | None = None,
) -> bool:
    """Serve `settings` until stopped; whether the server started (uvicorn logged why not).

    One worker serves the app built here; N workers each build theirs from $GOVGATE_CONFIG
    (`config`), after `prepare`. Raises PolicyError, GatewayError or SourceError before
    anything listens. `approval` approves files that remove shared information (Art. 9).
    """
    logs: dict[str, object] = {"log_config": log_config, "log_level": "info"}
    if workers == 1:
        app = create_app(settings, approval=approval)
        with _metrics(settings, app.state.gateway.metrics.exposition):
            server = uvicorn.Server(ServerConfig(app, options=settings.server, **logs))
            server.run()
        return bool(server.started)
    if config is None:
        raise GatewayError("--workers needs a deployment file: serve with --config FILE.")
    prepare(
        settings, approval=approval
    )  # tables, key and policy once, before the workers race for them
    os.environ[CONFIG_VARIABLE] = str(config.resolve())
    # The folder is named before the workers start: they read it when they import metrics.
    with (
        shared_metrics_folder() as folder,
        _metrics(settings, lambda: workers_exposition(str(folder))),
    ):
        server_config = ServerConfig(
            "gateway.http.serving:app_from_environment", factory=True, workers=workers,
            options=settings.server, **logs,
        )  # fmt: skip
        Multiprocess(server_config, sockets=[server_config.bind_socket()]).run()
    return True


@contextmanager
def _metrics(settings: Settings, exposition: Callable[[], bytes]) -> Iterator[None]:
    """The metrics listener of `[metrics] listen`, for as long as the block runs."""
    address = settings.metrics.address
    if address is None:
        yield
        return
    listener = MetricsListener(address, exposition)
    listener.start()
    try:
        yield
    finally:
        listener.close()


def prepare(settings: Settings, *, approval: str | None = None) -> None:
    """Create the audit, voucher and policy tables, the signing key and the published policy,
    once, before workers start (raises PolicyError, GatewayError or a database error).
    `approval` approves files that remove shared information (Art. 9; see
    gateway.http.gateway.Gateway)."""

    async def run() -> None:
        gateway = Gateway(settings, approval=approval)
        try:
            await gateway.start()
        finally:
            await gateway.close()

    asyncio.run(run())


@contextmanager
def shared_metrics_folder() -> Iterator[Path]:
    """A new, empty folder for the workers' metrics, named by $PROMETHEUS_MULTIPROC_DIR for
    the worker processes started within the block; removed afterwards.

    Always a new one: counts left by an earlier run would be added to this one's. It is made
    under the system's temporary folder ($TMPDIR; a tmpfs is best: workers write to it on
    every request).
    """
    folder = Path(tempfile.mkdtemp(prefix="govgate-metrics-"))
    previous = os.environ.get(MULTIPROCESS_VARIABLE)
    os.environ[MULTIPROCESS_VARIABLE] = str(folder)
    try:
        yield folder
    finally:
        if previous is None:
            os.environ.pop(MULTIPROCESS_VARIABLE, None)
        else:
            os.environ[MULTIPROCESS_VARIABLE] = previous
        shutil.rmtree(folder, ignore_errors=True)
