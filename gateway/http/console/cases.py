"""The console's case pages: the inbox, one case with its history, and the steps it waits for.

The administrator's inbox is every case; a provider's, the cases about its datasets. A case
the viewer is not party to is NOT_FOUND, like one that does not exist. A step's form posts to
`/console/{requests|objections}/ID/STEP`; the core decides whether the viewer may take it
(STEP_NOT_ALLOWED, WRONG_STATE, ...), and the answer is the case page again, with what was
done or why not.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from gateway.http.console.rendering import page
from gateway.http.console.session import FormError, Viewer
from gateway.http.middleware import trail_of
from gateway.workflows import access as access_module
from gateway.workflows import objections as objections_module
from gateway.workflows.errors import WorkflowError, WorkflowInputError
from gateway.workflows.types import Actor
from gateway.workflows.working_days import CHINA

if TYPE_CHECKING:
    from collections.abc import Mapping

    from starlette.requests import Request
    from starlette.responses import Response

    from gateway.http.console.viewer import Console
    from gateway.workflows.access import AccessRequest
    from gateway.workflows.objections import Objection

__all__ = ["Cases"]

#: The HTTP status a refused step is answered with, by its code.
_STATUS = {
    "NOT_FOUND": 404, "STEP_NOT_ALLOWED": 403, "WRONG_STATE": 409, "CASE_CHANGED": 409,
    "SOURCE_UNCHANGED": 409, "GRANT_NOT_PUBLISHED": 409, "SOURCE_UNAVAILABLE": 503,
    "WORKFLOW_STORE_FAILED": 503,
}  # fmt: skip


class Cases:
    """The inbox and the case pages."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.workflows = console.host.workflows

    async def inbox(self, request: Request) -> Response:
        """GET /console: the cases waiting for a step, then the rest, with their deadlines."""
        viewer = await self.console.viewer(request, "inbox")
        if not isinstance(viewer, Viewer):
            return viewer
        policy = await self.console.policy()
        actor, role = _actor(viewer), None if viewer.administrator else "provider"
        try:
            requests = await self.workflows.access(policy).for_agency(actor, role=role)
            objections = await self.workflows.objections(policy).for_agency(actor, role=role)
        except WorkflowError as error:
            return self._refused(request, viewer, error)
        return page(
            "inbox.html", viewer=viewer, requests=requests, objections=objections,
            waiting_requests=access_module.WAITING, waiting_objections=objections_module.WAITING,
        )  # fmt: skip

    async def request_page(self, request: Request) -> Response:
        """GET /console/requests/ID."""
        viewer = await self.console.viewer(request, "request")
        if not isinstance(viewer, Viewer):
            return viewer
        return await self._request(request, viewer)

    async def objection_page(self, request: Request) -> Response:
        """GET /console/objections/ID."""
        viewer = await self.console.viewer(request, "objection")
        if not isinstance(viewer, Viewer):
            return viewer
        return await self._objection(request, viewer)

    async def request_step(self, request: Request) -> Response:
        """POST /console/requests/ID/{forward,decide,available,publish}."""
        step = request.path_params["step"]
        viewer = await self.console.viewer(request, f"request:{step}")
        if not isinstance(viewer, Viewer):
            return viewer
        try:
            form = await self.console.form(request, viewer)
            notice = await self._take_request_step(request, viewer, step, form)
        except FormError as error:
            return self.console.refused(request, error.status, error.code, str(error), viewer)
        except WorkflowError as error:
            return await self._request(request, viewer, error=error)
        return await self._request(request, viewer, notice=notice)

    async def objection_step(self, request: Request) -> Response:
        """POST /console/objections/ID/{check,report,confirm}."""
        step = request.path_params["step"]
        viewer = await self.console.viewer(request, f"objection:{step}")
        if not isinstance(viewer, Viewer):
            return viewer
        try:
            form = await self.console.form(request, viewer)
            notice = await self._take_objection_step(request, viewer, step, form)
        except FormError as error:
            return self.console.refused(request, error.status, error.code, str(error), viewer)
        except WorkflowError as error:
            return await self._objection(request, viewer, error=error)
        return await self._objection(request, viewer, notice=notice)

    async def _take_request_step(
        self, request: Request, viewer: Viewer, step: str, form: Mapping[str, str]
    ) -> list[str]:
        case_id, actor = request.path_params["case_id"], _actor(viewer)
        request_id = trail_of(request).request_id
        access = self.workflows.access(await self.console.policy(), request_id=request_id)
        if step == "forward":
            done = await access.forward(actor, case_id, reference=form.get("reference", ""),
                                        reason=form.get("reason") or None)  # fmt: skip
            return [f"Forwarded to the government with reference {done.forwarded_reference}."]
        if step == "available":
            done = await access.mark_available(actor, case_id, reason=form.get("reason") or None)
            return [f"{viewer.agency} marked the data available; the request is {done.state}."]
        if step in {"decide", "publish"}:
            if step == "decide":
                approved = _choice(form, "decision", {"approve": True, "refuse": False})
                decided = await self.workflows.decide(
                    actor, case_id, approved=approved, reference=form.get("reference") or None,
                    reasons=form.get("reasons") or None, until=_day(form.get("until", "")),
                    request_id=request_id,
                )  # fmt: skip
            else:
                decided = await self.workflows.publish(actor, case_id, request_id=request_id)
            notes = [f"Decision recorded: {decided.request.state}."]
            if decided.published is not None:
                notes.append(f"The grant is in force as published policy "
                             f"@{decided.published.policy_id}.")  # fmt: skip
                notes += decided.published.warnings
            if decided.problem:
                notes.append(f"The grant is NOT in force: {decided.problem}")
            return notes
        raise FormError(f"There is no step {step!r} for an access request.", status=404,
                        code="NOT_FOUND")  # fmt: skip

    async def _take_objection_step(
        self, request: Request, viewer: Viewer, step: str, form: Mapping[str, str]
    ) -> list[str]:
        case_id, actor = request.path_params["case_id"], _actor(viewer)
        objections = self.workflows.objections(
            await self.console.policy(), request_id=trail_of(request).request_id
        )
        reason, since = form.get("reason", ""), _moment(form.get("wrong_since", ""))
        if step == "check":
            technical = _choice(form, "cause", {"technical": True, "not-technical": False})
            done = await objections.check(
                actor, case_id, technical=technical, reason=reason, wrong_since=since
            )
        elif step == "report":
            wrong = _choice(form, "source", {"wrong": True, "right": False})
            done = await objections.report(
                actor, case_id, source_wrong=wrong, reason=reason, wrong_since=since
            )
        elif step == "confirm":
            done = await objections.confirm_correction(actor, case_id, reason=reason or None)
        else:
            raise FormError(f"There is no step {step!r} for an objection.", status=404,
                            code="NOT_FOUND")  # fmt: skip
        return [f"Recorded: the objection is {done.state}."]

    async def _request(
        self, request: Request, viewer: Viewer, *, notice: list[str] | None = None,
        error: WorkflowError | None = None,
    ) -> Response:  # fmt: skip
        served = await self.console.host.current()
        access = self.workflows.access(served.policy)
        try:
            found = await access.get(_actor(viewer), request.path_params["case_id"])
        except WorkflowError as missing:
            return self._refused(request, viewer, missing)
        rules = set((served.texts.rules or "").split("\n"))
        in_force = all(line in rules for line in found.rules)
        steps = _request_steps(found, viewer, in_force)
        return self._case("request.html", request, viewer, error, case=found, notice=notice,
                          in_force=in_force, steps=steps)  # fmt: skip

    async def _objection(
        self, request: Request, viewer: Viewer, *, notice: list[str] | None = None,
        error: WorkflowError | None = None,
    ) -> Response:  # fmt: skip
        objections = self.workflows.objections(await self.console.policy())
        try:
            found = await objections.get(_actor(viewer), request.path_params["case_id"])
        except WorkflowError as missing:
            return self._refused(request, viewer, missing)
        return self._case("objection.html", request, viewer, error, case=found, notice=notice,
                          steps=_objection_steps(found, viewer))  # fmt: skip

    def _case(
        self, template: str, request: Request, viewer: Viewer, error: WorkflowError | None,
        **values: Any,
    ) -> Response:  # fmt: skip
        status = 200
        if error is not None:
            status = _STATUS.get(error.code, 422)
            trail_of(request).refuse(error.code, str(error))
        return page(template, status=status, viewer=viewer, error=error, **values)

    def _refused(self, request: Request, viewer: Viewer, error: WorkflowError) -> Response:
        status = _STATUS.get(error.code, 422)
        return self.console.refused(request, status, error.code, str(error), viewer)


def _actor(viewer: Viewer) -> Actor:
    return Actor(agency=viewer.agency, officer=viewer.officer)


def _request_steps(case: AccessRequest, viewer: Viewer, in_force: bool) -> set[str]:
    """The steps this viewer may take on the request now (the forms the page shows)."""
    steps = set()
    if viewer.administrator and case.state == "filed":
        steps.add("forward")
    if viewer.administrator and case.state == "forwarded":
        steps.add("decide")
    if viewer.administrator and case.decision == "approved" and not in_force:
        steps.add("publish")
    if (case.state == "approved" and viewer.agency in case.providers
            and viewer.agency not in case.available_from):  # fmt: skip
        steps.add("available")
    return steps


def _objection_steps(case: Objection, viewer: Viewer) -> set[str]:
    provider = viewer.agency == case.provider
    steps = set()
    if viewer.administrator and case.state == "filed":
        steps.add("check")
    if provider and case.state == "with-provider":
        steps.add("report")
    if (provider or viewer.administrator) and case.state == "correcting":
        steps.add("confirm")
    return steps


def _choice(form: Mapping[str, str], name: str, options: Mapping[str, bool]) -> bool:
    value = form.get(name, "")
    if value not in options:
        raise WorkflowInputError(f"Choose {' or '.join(options)} for {name}.")
    return options[value]


def _day(text: str) -> date | None:
    if not text.strip():
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise WorkflowInputError(f"{text[:20]!r} is not a day; write YYYY-MM-DD.") from None


def _moment(text: str) -> datetime | None:
    """A `datetime-local` value, read as China time (the agencies' clocks)."""
    if not text.strip():
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise WorkflowInputError(
            f"{text[:25]!r} is not a time; write YYYY-MM-DDTHH:MM (China time)."
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=CHINA)
