"""Who is looking at a console page, signing in and out, and the pages that refuse.

Every console request is authenticated again from its session cookie and its audit record
(the trail the audited-requests middleware started) gets the agency, the officer, the policy
version and a `console:` flag; a refusal is recorded with its code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from starlette.responses import RedirectResponse

from gateway.errors import AuthenticationError
from gateway.http.console.rendering import page
from gateway.http.console.session import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    FormError,
    Viewer,
    check_origin,
    csrf_for,
    end_session,
    keep_sign_in_csrf,
    read_form,
    same_token,
    sign_in_csrf,
    start_session,
)
from gateway.http.middleware import trail_of

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from datetime import datetime

    from starlette.requests import Request
    from starlette.responses import Response

    from gateway.http.workflows.service import Workflows
    from gateway.identity import Authenticator
    from gateway.policy.served import Served
    from gateway.policy.sync import PolicyStore
    from gateway.settings import Settings
    from policies.grants import Policy

__all__ = ["Console", "ConsoleHost"]


class ConsoleHost(Protocol):
    """What the console uses of the gateway (gateway.http.app.Gateway has all of it)."""

    @property
    def settings(self) -> Settings:
        """The deployment (body limit, whether an officer is required)."""

    @property
    def authenticator(self) -> Authenticator:
        """Verifies the session's token."""

    @property
    def workflows(self) -> Workflows:
        """Access requests and objections."""

    @property
    def policy_store(self) -> PolicyStore:
        """The published policies (the catalogue's history)."""

    @property
    def clock(self) -> Callable[[], datetime]:
        """The time, aware."""

    async def current(self) -> Served:
        """The policy in force today."""


class Console:
    """The console's shared machinery: the viewer of each request, and its forms."""

    def __init__(self, host: ConsoleHost) -> None:
        self.host = host

    async def viewer(self, request: Request, page_name: str) -> Viewer | Response:
        """The signed-in viewer, or the page to answer instead (sign in, refused)."""
        trail = trail_of(request)
        trail.flags.append(f"console:{page_name}")
        token = request.cookies.get(SESSION_COOKIE)
        if not token:
            return self.sign_in_page(request, status=401 if page_name != "inbox" else 200)
        try:
            identity = await self.host.authenticator.authenticate(f"Bearer {token}")
        except AuthenticationError as error:
            trail.unauthenticated_because(f"{error.reason}: {error.message}")
            response = self.sign_in_page(
                request, status=401, problem=f"Your session ended: {error.message}"
            )
            end_session(response, request)
            return response
        trail.agency, trail.officer = identity.agency, identity.officer
        policy = await self.policy()
        trail.policy_version = policy.version
        if self.host.settings.require_officer and identity.officer is None:
            return self.refused(
                request, 403, "OFFICER_REQUIRED", f"This gateway takes only tokens that name the "
                f"acting officer (Art. 29, 34), and this token for {identity.agency} names none; "
                "sign in with a token carrying the act claim.",
            )  # fmt: skip
        grants = policy.grants_for(identity.agency)
        provides = frozenset(
            share.ref
            for dataset in policy.catalog.datasets
            if dataset.provider == identity.agency
            for share in dataset.fields
        )
        if not grants.administrator and not provides:
            return self.refused(
                request, 403, "FORBIDDEN", f"The console is for the platform administrator "
                f"({policy.catalog.administrator}) and for the agencies that provide datasets; "
                f"{identity.agency} provides none. Follow your own access requests and "
                "objections with the GraphQL fields accessRequests and objections.",
            )  # fmt: skip
        return Viewer(
            agency=identity.agency, officer=identity.officer, administrator=grants.administrator,
            provides=provides, csrf=csrf_for(token),
        )  # fmt: skip

    async def policy(self) -> Policy:
        """The policy in force."""
        return (await self.host.current()).policy

    async def form(self, request: Request, viewer: Viewer) -> Mapping[str, str]:
        """The posted form, checked to come from a console page of this session."""
        check_origin(request)
        form = await read_form(request, max_bytes=self.host.settings.limits.max_body_bytes)
        if not same_token(form.get("csrf"), viewer.csrf):
            raise FormError(
                "This form's security token does not match your session (an old page, or a "
                "form another site made); reload the page and send it again.",
                status=403, code="FORBIDDEN",
            )  # fmt: skip
        return form

    def refused(
        self, request: Request, status: int, code: str, message: str, viewer: Viewer | None = None
    ) -> Response:
        """A page saying what was refused and why; recorded with its code."""
        trail_of(request).refuse(code, message)
        return page("refused.html", status=status, viewer=viewer, code=code, message=message)

    def sign_in_page(self, request: Request, *, status: int = 200, problem: str = "") -> Response:
        """The sign-in form, with its double-submit token."""
        csrf = sign_in_csrf(request)
        response = page("sign_in.html", status=status, viewer=None, csrf=csrf, problem=problem)
        keep_sign_in_csrf(response, request, csrf)
        return response

    async def sign_in(self, request: Request) -> Response:
        """POST /console/sign-in: check the token, then keep it in the session cookie."""
        trail = trail_of(request)
        trail.flags.append("console:sign-in")
        try:
            check_origin(request)
            form = await read_form(request, max_bytes=self.host.settings.limits.max_body_bytes)
        except FormError as error:
            return self.refused(request, error.status, error.code, str(error))
        if not same_token(form.get("csrf"), request.cookies.get(CSRF_COOKIE, "")):
            return self.refused(
                request, 403, "FORBIDDEN", "The sign-in form's security token does not match "
                "(an old page, or a form another site made); reload the page and sign in again.",
            )  # fmt: skip
        token = form.get("token", "").strip()
        try:
            identity = await self.host.authenticator.authenticate(f"Bearer {token}")
        except AuthenticationError as error:
            trail.unauthenticated_because(f"{error.reason}: {error.message}")
            return self.sign_in_page(request, status=401, problem=error.message)
        trail.agency, trail.officer = identity.agency, identity.officer
        response = RedirectResponse("/console", status_code=303)
        start_session(response, request, token)
        return response

    async def sign_out(self, request: Request) -> Response:
        """POST /console/sign-out: clear the session (the token itself stays valid until it
        expires or is revoked)."""
        viewer = await self.viewer(request, "sign-out")
        if not isinstance(viewer, Viewer):
            return viewer
        try:
            await self.form(request, viewer)
        except FormError as error:
            return self.refused(request, error.status, error.code, str(error), viewer)
        response = RedirectResponse("/console", status_code=303)
        end_session(response, request)
        return response
