"""What the endpoints share: the gateway, who is asking, the JSON body, answering a refusal."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from gateway.errors import AuthenticationError, WireError
from gateway.http.body import parse_json, read_body
from gateway.http.middleware import trail_of
from gateway.http.responses import error_response

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from starlette.requests import Request
    from starlette.responses import Response

    from gateway.http.gateway import Gateway
    from gateway.identity import Identity
    from gateway.trust.trail import Trail

    Endpoint = Callable[[Request, Trail], Awaitable[Response]]

__all__ = ["answering", "gateway_of", "identify", "read_json", "refuse"]


def gateway_of(request: Request) -> Gateway:
    """The gateway serving `request` (create_app puts it on the app's state)."""
    gateway: Gateway = request.app.state.gateway
    return gateway


def refuse(trail: Trail, error: WireError) -> Response:
    """Record `error` on the request's trail and answer it."""
    if isinstance(error, AuthenticationError):
        trail.unauthenticated_because(f"{error.reason}: {error.message}")
    else:
        trail.refuse(error.code, error.message)
        trail.flags += error.flags
    return error_response(error, trail.request_id)


def answering(endpoint: Endpoint) -> Callable[[Request], Awaitable[Response]]:
    """The route for `endpoint`: it gets the request's trail, and a WireError it raises is
    recorded and answered."""

    @functools.wraps(endpoint)
    async def route(request: Request) -> Response:
        trail = trail_of(request)
        try:
            return await endpoint(request, trail)
        except WireError as error:
            return refuse(trail, error)

    return route


async def identify(request: Request, trail: Trail) -> Identity:
    """The calling agency (and officer), noted on the trail; raises the WireError refusing its
    token (401/503) or, where the deployment requires the acting officer, its absence (403)."""
    gateway = gateway_of(request)
    given = request.headers.getlist("authorization")
    if len(given) > 1:  # RFC 9110: one field; a proxy that read another must not disagree
        raise AuthenticationError(
            "malformed_header",
            f"The request carries {len(given)} Authorization headers; send exactly one, "
            "'Authorization: Bearer <token>'.",
        )
    identity = await gateway.authenticator.authenticate(given[0] if given else None)
    trail.agency, trail.officer = identity.agency, identity.officer
    if gateway.settings.require_officer and identity.officer is None:
        raise WireError(
            f"This gateway answers only tokens that name the acting officer (Art. 29, 34), and "
            f"this token for {identity.agency} names none; ask your token issuer for a token "
            "with the act claim {\"act\": {\"sub\": \"<officer id>\"}} (RFC 8693).",
            code="OFFICER_REQUIRED",
        )  # fmt: skip
    return identity


async def read_json(request: Request) -> object:
    """The body's JSON (gateway.http.body: bounded, strict, valid Unicode); raises BodyError."""
    limit = gateway_of(request).settings.limits.max_body_bytes
    return parse_json(await read_body(request, max_bytes=limit))
