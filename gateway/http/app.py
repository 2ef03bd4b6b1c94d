"""The ASGI application: wiring only. The routes' endpoints live in gateway.http.endpoints, the
state they share in gateway.http.gateway, and every request passes the audit middleware
(gateway.http.middleware.audited): one record each, committed before the answer is released.
"""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from gateway import tracing
from gateway.http.console import console_routes
from gateway.http.endpoints.graphql import graphql
from gateway.http.endpoints.health import health, ready
from gateway.http.endpoints.reload import reload_policy
from gateway.http.gateway import Gateway, utc_now
from gateway.http.middleware import (
    AuditedRequests,
    BodyDeadline,
    RequestIds,
    Traced,
    http_error,
    trail_in,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable
    from datetime import datetime

    from gateway.settings import Settings

__all__ = ["Gateway", "create_app"]

#: GraphiQL and React, vendored (gateway/static, shipped as package data).
_STATIC = Path(__file__).parent.parent / "static"


def create_app(
    settings: Settings,
    *,
    clock: Callable[[], datetime] = utc_now,
    approval: str | None = None,
) -> Starlette:
    """The ASGI app for `settings` (raises PolicyError if the catalogue or rules are broken).

    `clock` gives the current time, time-zone aware (tests pin it); `approval` approves
    starting on files that remove shared information (Art. 9; see Gateway).
    """
    if settings.tracing.enabled:
        tracing.check()  # refuse to start without the packages, not at the first request
    gateway = Gateway(settings, clock=clock, approval=approval)
    routes = [
        Route("/healthz", health, methods=["GET"]),
        Route("/readyz", ready, methods=["GET"]),
        Route("/graphql", graphql, methods=["GET", "POST"]),
        Route("/admin/policy/reload", reload_policy, methods=["POST"]),
        *console_routes(gateway),  # the console (docs/workflows.md); before /static: its styles
        Mount("/static", StaticFiles(directory=_STATIC), name="static"),
    ]
    endpoints = frozenset(route.path for route in routes if isinstance(route, Route))
    middleware = [  # outermost first (gateway.http.middleware)
        Middleware(RequestIds),
        *([Middleware(Traced, endpoints=endpoints)] if settings.tracing.enabled else []),
        Middleware(  # every request recorded once, before its answer is released
            AuditedRequests,
            recorder=gateway,
            endpoints=endpoints,
            max_requests=settings.server.max_requests,
        ),
        Middleware(BodyDeadline, body_timeout_s=settings.server.body_timeout_s, trail_of=trail_in),
    ]
    app = Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={HTTPException: http_error},
        lifespan=_lifespan(gateway),
    )
    app.router.redirect_slashes = False  # /graphql/ is not /graphql: a 404, recorded
    app.state.gateway = gateway
    return app


def _lifespan(gateway: Gateway) -> Callable[[Starlette], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        if gateway.settings.tracing.enabled:  # in each worker: the exporter's thread is its own
            tracing.start(gateway.settings.tracing)
        await gateway.start()
        try:
            yield
        finally:
            await gateway.close()
            if gateway.settings.tracing.enabled:  # the last spans sent, within the timeout
                await asyncio.to_thread(tracing.stop)

    return lifespan
