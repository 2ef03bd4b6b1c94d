"""Serving a deployment with one or many worker processes (`govgate serve --workers N`).

Workers are separate processes (uvicorn's), each with its own event loop, connection pools and
audit writer; they share the sources, the audit store and the published policy through the
databases (gateway.policy_sync), so any number of them, on any number of machines, serve one
policy and write one audit chain. Before the workers start, the parent prepares the shared
state once (tables, the signing key, the policy), so workers never race to create them.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.app import Gateway, create_app
from gateway.errors import GatewayError
from gateway.settings import load_settings

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from gateway.settings import Settings

__all__ = ["CONFIG_VARIABLE", "app_from_environment", "prepare"]

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
    return create_app(load_settings(Path(path)))


def prepare(settings: Settings) -> None:
    """Create the audit, voucher and policy tables, the signing key and the published policy,
    once, before workers start (raises PolicyError, GatewayError or a database error)."""

    async def run() -> None:
        gateway = Gateway(settings)
        try:
            await gateway.start()
        finally:
            await gateway.close()

    asyncio.run(run())
