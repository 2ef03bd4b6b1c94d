"""POST /graphql: a request's operations, answered one way; GET: the GraphiQL page for browsers.

The request goes down: who is asking (identity), the body, the policy in force and the duty
named (grants), the agency's schema, every operation checked and the request admitted (cost,
verifications, rate windows) before any runs. The answers come back once: each operation's
`Answer` (gateway.graphql.execution) goes to trust, which vouches for it and notes what it
disclosed on the trail (gateway.trust.evidence.settle); the audit middleware commits the record,
and only then is the answer sent.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from gateway.errors import WireError
from gateway.graphql.execution import Answer, RequestCost, prepare_operation, run_operation
from gateway.graphql.workflows.api import attach_warnings
from gateway.http.endpoints._request import answering, gateway_of, identify, read_json
from gateway.http.graphiql import graphiql_page
from gateway.http.middleware import wants_page
from gateway.http.responses import JsonAnswer
from gateway.ratelimit import retry_after_of, too_many_verifications
from gateway.trust.canonical import CanonicalFormError
from policies.errors import DutyError, DutyRequiredError

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from gateway.graphql.execution import Prepared
    from gateway.graphql.schemas import AgencySchema
    from gateway.http.gateway import Gateway
    from gateway.policy.served import Served
    from gateway.trust.trail import Trail
    from policies.grants import Grants

__all__ = ["graphql"]

log = logging.getLogger("govgate.gateway")


@answering
async def graphql(request: Request, trail: Trail) -> Response:
    """POST: GraphQL operations; GET: GraphiQL (one route, so a 405 names both)."""
    if request.method in {"GET", "HEAD"}:  # Starlette routes HEAD with GET
        if not wants_page(request.headers):  # a refused API call: audited like any other
            raise WireError("Send GraphQL operations with POST (JSON body); GET serves GraphiQL "
                            "to browsers.", code="METHOD_NOT_ALLOWED")  # fmt: skip
        return graphiql_page()  # the page itself reads no data: not audited
    gateway = gateway_of(request)
    identity = await identify(request, trail)
    payload = await read_json(request)
    served = await gateway.current()  # this request keeps it, whatever reloads meanwhile
    trail.policy_version = served.policy.version
    grants = _bind_duty(request, trail, served, identity.agency)
    schema = served.schemas.schema_for(grants)
    batch = isinstance(payload, list)
    operations: list[object] = payload if isinstance(payload, list) else [payload]
    prepared, cost = await _admit(gateway, trail, identity.agency, schema, operations, batch=batch)
    answers: list[Answer] = []
    for operation, ready in zip(operations, prepared, strict=True):
        trail.operation(operation)
        context = gateway.context(served, grants, trail.request_id, identity.officer)
        answer = await run_operation(ready, schema=schema, context=context, cost=cost)
        try:
            await gateway.evidence.settle(trail, answer, catalog=served.policy.catalog,
                                          grants=grants, now=context.now)  # fmt: skip
        except CanonicalFormError as error:  # data JSON cannot carry exactly: no voucher
            log.error("no voucher for request %s: %s", trail.request_id, error)
            raise WireError(
                "The answer could not be fixed in a voucher, so it was not released (Art. 23); "
                f"give request id {trail.request_id} to the platform administrator.",
                code="INTERNAL_SERVER_ERROR",
            ) from None
        attach_warnings(answer.response, context)  # workflow deadlines counted Mon-Fri
        answers.append(answer)
    results = [answer.response for answer in answers]
    return _respond(gateway, trail, results if batch else results[0], results)


def _bind_duty(request: Request, trail: Trail, served: Served, agency: str) -> Grants:
    """The grants under the duty the request names (`Govgate-Duty`); raises the 403 refusing
    it (Art. 18, 21, 34(4); policies.duties). Several headers name no one duty."""
    asked = ",".join(request.headers.getlist("govgate-duty")).strip() or None
    trail.duty = asked[:64] if asked else None  # recorded as asked, even when refused
    try:
        return served.policy.bound_grants(agency, asked)
    except DutyError as error:
        code = "DUTY_REQUIRED" if isinstance(error, DutyRequiredError) else "DUTY_NOT_HELD"
        duties = [{"id": duty, "name": name} for duty, name in error.held]
        raise WireError(str(error), code=code, extensions={"duties": duties}) from None


async def _admit(
    gateway: Gateway,
    trail: Trail,
    agency: str,
    schema: AgencySchema,
    operations: list[object],
    *,
    batch: bool,
) -> tuple[list[Prepared], RequestCost]:
    """The request's operations, each checked, and their cost; raises the WireError refusing
    the request as a whole before anything runs (batch size, verifications, windows)."""
    limits = gateway.settings.limits
    if batch and not 1 <= len(operations) <= limits.max_batch:
        message = f"A batch holds 1 to {limits.max_batch} operations, not {len(operations)}; " \
            "send fewer at once."  # fmt: skip
        raise WireError(message, code="QUERY_TOO_COMPLEX")
    # Every operation is checked before any runs: the cost is the request's (a batch's
    # operations added up), refused as a whole before anything is read.
    prepared = [prepare_operation(operation, schema=schema, agency=agency,
                                  request_id=trail.request_id, limits=limits)
                for operation in operations]  # fmt: skip
    cost = RequestCost.of(prepared, limits, batch=batch)
    # Verifications count per request, batch and all, before anything runs (Art. 24).
    verifications = sum(ready.verifications for ready in prepared)
    throttle = (
        await gateway.limiter.admit_request(agency, verifications)
        if verifications <= limits.max_verifications
        else too_many_verifications(verifications, limits.max_verifications)
    )
    if throttle is not None:
        raise throttle
    return prepared, cost


def _respond(
    gateway: Gateway, trail: Trail, body: object, results: list[dict[str, Any]]
) -> Response:
    """The answer to release: 429 when every operation was refused by a rate limit; withheld
    when larger than the byte cap (the cost estimate's backstop)."""
    headers = {"X-Request-Id": trail.request_id}
    wait = retry_after_of(results)
    if wait is not None:
        headers["Retry-After"] = str(wait)
    response = JsonAnswer(body, status_code=200 if wait is None else 429, headers=headers)
    cap = gateway.settings.limits.max_response_bytes
    if len(response.body) > cap:
        trail.withhold(f"response-withheld:{len(response.body)}")
        raise WireError(f"The answer is {len(response.body)} bytes; the limit is {cap}, so it "
                        "was withheld. Ask for smaller pages or fewer fields and links at once.",
                        code="QUERY_TOO_COMPLEX")  # fmt: skip
    return response
