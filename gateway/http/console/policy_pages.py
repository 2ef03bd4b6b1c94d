"""The console's policy pages: the grant matrix, a cell's explanation, the catalogue's history.

- `/console/grants`: agencies x fields of the served policy, query and verify, each cell linking
  to `/console/grants/explain` (policies.explain: the decision, the rule, the entry, the
  article). The administrator sees every field; a provider the fields it provides (who may use
  its data), and may explain only those.
- `/console/catalog` and `/console/catalog/diff?old=@N&new=@M` (administrator only): every
  published policy with who put it into force on what approval (gateway.policy.history), and
  what one adds and removes relative to another (policies.diff), decided as of today.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from gateway.http.console.rendering import page
from gateway.http.console.session import Viewer
from gateway.policy.history import history, resolve
from policies.diff import diff_policies
from policies.errors import PolicyError
from policies.explain import explain
from sources.inventory import field_names

if TYPE_CHECKING:
    from datetime import date

    from starlette.requests import Request
    from starlette.responses import Response

    from gateway.http.console.viewer import Console
    from gateway.policy.sync import StoredPolicy
    from policies.grants import Policy

__all__ = ["PolicyPages"]


class PolicyPages:
    """The grant matrix, explanations, and the catalogue's history and diffs."""

    def __init__(self, console: Console) -> None:
        self.console = console

    async def grants(self, request: Request) -> Response:
        """GET /console/grants."""
        viewer = await self.console.viewer(request, "grants")
        if not isinstance(viewer, Viewer):
            return viewer
        policy = await self.console.policy()
        fields = _visible_fields(viewer)
        rows = []
        for agency in policy.catalog.agencies:
            grants = policy.grants_for(agency.code)
            cells = [(f, grants.can("query", f), grants.can("verify", f)) for f in fields]
            rows.append((agency.code, agency.name, cells))
        return page("grants.html", viewer=viewer, fields=fields, rows=rows,
                    version=policy.version, day=policy.day.isoformat())  # fmt: skip

    async def explanation(self, request: Request) -> Response:
        """GET /console/grants/explain?agency=CODE&field=Type.field[&method=verify][&duty=ID]."""
        viewer = await self.console.viewer(request, "explain")
        if not isinstance(viewer, Viewer):
            return viewer
        query = request.query_params
        agency, field = query.get("agency", ""), query.get("field", "")
        method, duty = query.get("method", "query"), query.get("duty") or None
        if field not in _visible_fields(viewer):
            return self.console.refused(
                request, 404, "NOT_FOUND", f"{field[:80]!r} is not a field you may explain here; "
                "choose a cell of the grant matrix.", viewer,
            )  # fmt: skip
        policy = await self.console.policy()
        try:
            found = explain(policy, agency, field, method, duty)
        except (PolicyError, ValueError) as error:
            return self.console.refused(request, 404, "NOT_FOUND", str(error), viewer)
        return page("explain.html", viewer=viewer, explanation=found)

    async def history(self, request: Request) -> Response:
        """GET /console/catalog: every published policy, newest first."""
        viewer = await self._administrator(request, "catalog")
        if not isinstance(viewer, Viewer):
            return viewer
        entries = await history(self.console.host.policy_store)
        return page("history.html", viewer=viewer, entries=list(reversed(entries)))

    async def diff(self, request: Request) -> Response:
        """GET /console/catalog/diff?old=@N&new=@M: what NEW adds and removes relative to OLD."""
        viewer = await self._administrator(request, "catalog-diff")
        if not isinstance(viewer, Viewer):
            return viewer
        refs = (request.query_params.get("old", ""), request.query_params.get("new", "@latest"))
        store, day = self.console.host.policy_store, self.console.host.workflows.today()
        try:
            old, new = [await resolve(store, ref[:80]) for ref in refs]
            policies = await asyncio.gather(
                *(asyncio.to_thread(_build, s, day) for s in (old, new))
            )
        except (LookupError, PolicyError) as error:
            return self.console.refused(request, 404, "NOT_FOUND", str(error), viewer)
        found = diff_policies(*policies)
        return page("diff.html", viewer=viewer, diff=found, old=old, new=new)

    async def _administrator(self, request: Request, name: str) -> Viewer | Response:
        viewer = await self.console.viewer(request, name)
        if isinstance(viewer, Viewer) and not viewer.administrator:
            policy = await self.console.policy()
            return self.console.refused(
                request, 403, "FORBIDDEN", "The catalogue's history is the platform "
                f"administrator's ({policy.catalog.administrator}, Art. 5, 9); `govgate catalog "
                "diff` compares catalogue files anyone holds.", viewer,
            )  # fmt: skip
        return viewer


def _visible_fields(viewer: Viewer) -> list[str]:
    """The matrix's columns: every field for the administrator, a provider's own otherwise."""
    every = field_names()
    return every if viewer.administrator else [f for f in every if f in viewer.provides]


def _build(stored: StoredPolicy, day: date) -> Policy:
    return stored.texts.build(day)
