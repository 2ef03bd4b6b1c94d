"""The web console at `/console`: the platform administrator's and the providers' workplace.

Signed in with an agency token (gateway.http.console.session), the administrator (Art. 5) sees
every access request and objection, the providers (Art. 12-14) the cases about their datasets:
the inbox with the working days left (overdue highlighted, a year without a known arrangement
warned about), each case's history and the steps it waits for (forward, decide, mark
available; check, report, confirm a correction), the agency x field grant matrix of the served
policy with the `explain` of each cell, and the catalogue's history with its diffs (Art. 9).
Any other agency gets a page saying the console is not for it.

Server-rendered (gateway.http.console.rendering): no script, no CDN. The console's routes live in
the gateway's app, so the audited-requests middleware records every console request like any
other, and every step is recorded again as a workflow event (gateway.workflows.recording).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from gateway.http.console.cases import Cases
from gateway.http.console.policy_pages import PolicyPages
from gateway.http.console.rendering import STATIC
from gateway.http.console.viewer import Console

if TYPE_CHECKING:
    from starlette.routing import BaseRoute

    from gateway.http.console.viewer import ConsoleHost

__all__ = ["console_routes"]


def console_routes(host: ConsoleHost) -> list[BaseRoute]:
    """The console's routes, and its styles under `/static/console` (a probe, like GraphiQL's)."""
    console = Console(host)
    cases, policy = Cases(console), PolicyPages(console)
    return [
        Route("/console", cases.inbox, methods=["GET"]),
        Route("/console/sign-in", console.sign_in, methods=["POST"]),
        Route("/console/sign-out", console.sign_out, methods=["POST"]),
        Route("/console/requests/{case_id}", cases.request_page, methods=["GET"]),
        Route("/console/requests/{case_id}/{step}", cases.request_step, methods=["POST"]),
        Route("/console/objections/{case_id}", cases.objection_page, methods=["GET"]),
        Route("/console/objections/{case_id}/{step}", cases.objection_step, methods=["POST"]),
        Route("/console/grants", policy.grants, methods=["GET"]),
        Route("/console/grants/explain", policy.explanation, methods=["GET"]),
        Route("/console/catalog", policy.history, methods=["GET"]),
        Route("/console/catalog/diff", policy.diff, methods=["GET"]),
        Mount("/static/console", StaticFiles(directory=STATIC), name="console-static"),
    ]
