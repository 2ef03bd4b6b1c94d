"""POST /graphql: a request's operations, answered one way; GET: one query given in the URL
(`?query=`, `?extensions=` with a persisted query's hash), or the GraphiQL page for browsers.

The request goes down: who is asking (identity), the body, the policy in force and the duty
named (grants), the agency's schema, every operation checked and the request admitted (cost,
verifications, rate windows) before any runs. An operation sent by the hash of a registered
document (gateway.documents: persisted queries) gets its text first; an agency in required mode
runs approved documents only; a mutation never runs by GET. The answers come back once: each
operation's `Answer` (gateway.graphql.execution) goes to trust, which vouches for it and notes
what it disclosed on the trail (gateway.trust.evidence.settle); the audit middleware commits
the record, and only then is the answer sent.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from gateway.documents import DocumentError, Resolved, resolve
from gateway.errors import WireError
from gateway.graphql.execution import (
    Answer,
    Prepared,
    RequestCost,
    prepare_operation,
    refused,
    run_operation,
)
from gateway.graphql.operations import introspection_only, operation_kind
from gateway.graphql.workflows.api import attach_warnings
from gateway.http.body import parse_json
from gateway.http.endpoints._request import answering, gateway_of, identify, read_json
from gateway.http.graphiql import graphiql_page
from gateway.http.middleware import page_link, wants_page
from gateway.http.responses import JsonAnswer
from gateway.ratelimit import retry_after_of, too_many_verifications
from gateway.trust.canonical import CanonicalFormError
from policies.errors import DutyError, DutyRequiredError

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from gateway.graphql.schemas import AgencySchema
    from gateway.http.gateway import Gateway
    from gateway.identity import Identity
    from gateway.policy.served import Served
    from gateway.trust.trail import Trail
    from policies.grants import Grants

__all__ = ["graphql"]

log = logging.getLogger("govgate.gateway")

#: What a GET answer may be kept as: by the caller's own client only (`private`: never a shared
#: cache, the answer holds personal data), and reused only after asking again (`no-cache`), so
#: every delivery reaches the gateway and is recorded (Art. 28); docs/security.md says more.
GET_CACHING = {"Cache-Control": "private, no-cache", "Vary": "Authorization, Govgate-Duty"}
#: GET refusals are never kept by anyone (405 and 414 are cacheable by default, RFC 9110).
_NO_STORE = {"Cache-Control": "no-store"}


@answering
async def graphql(request: Request, trail: Trail) -> Response:
    """POST: GraphQL operations; GET: one query in the URL, or GraphiQL (one route, so a 405
    names both)."""
    get = request.method in {"GET", "HEAD"}  # Starlette routes HEAD with GET
    if get and (not _in_url(request) or page_link(request.headers)):
        if not wants_page(request.headers):  # a refused API call: audited like any other
            raise WireError("GET /graphql answers a query given in its URL (?query=... or "
                            "?extensions=... with a persisted query's hash) and serves "
                            "GraphiQL to browsers; send other GraphQL operations with POST "
                            "(JSON body).", code="METHOD_NOT_ALLOWED",
                            headers={"Allow": "GET, HEAD, POST"})  # fmt: skip
        return graphiql_page()  # the page itself reads no data: not audited
    if request.method == "HEAD":  # it would read data and send none: nothing to run it for
        raise WireError("HEAD does not run GraphQL operations; send GET (or POST).",
                        code="METHOD_NOT_ALLOWED",
                        headers={"Allow": "GET, POST", **_NO_STORE})  # fmt: skip
    gateway = gateway_of(request)
    identity = await identify(request, trail)
    payload = _from_url(request, gateway) if get else await read_json(request)
    served = await gateway.current()  # this request keeps it, whatever reloads meanwhile
    trail.policy_version = served.policy.version
    grants = _bind_duty(request, trail, served, identity.agency)
    schema = served.schemas.schema_for(grants)
    batch = isinstance(payload, list)
    given: list[object] = payload if isinstance(payload, list) else [payload]
    resolved = [_resolve(gateway, identity.agency, operation) for operation in given]
    operations = [
        r.body if isinstance(r, Resolved) else o for r, o in zip(resolved, given, strict=True)
    ]
    prepared, cost = await _admit(gateway, trail, identity, schema, resolved, batch=batch, get=get)
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
    response = _respond(gateway, trail, results if batch else results[0], results)
    if get:
        response.headers.update(GET_CACHING)
    return response


def _in_url(request: Request) -> bool:
    """Whether a GET carries an operation (`query` or `extensions`) in its URL."""
    params = request.query_params
    return "query" in params or "extensions" in params


def _from_url(request: Request, gateway: Gateway) -> dict[str, object]:
    """The one operation a GET carries in its URL: `query`, `operationName`, and `variables`
    and `extensions` as JSON (the GraphQL-over-HTTP convention); raises the WireError refusing
    a query string past `limits.max_url_bytes`, a parameter given twice or JSON that is not."""
    limit = gateway.settings.limits.max_url_bytes
    size = len(request.scope.get("query_string", b""))
    if size > limit:
        raise WireError(f"The URL's query string is {size} bytes; the limit is {limit}. Send the "
                        "operation by its persisted query's hash, or by POST.",
                        code="URI_TOO_LONG", headers=_NO_STORE)  # fmt: skip
    operation: dict[str, object] = {}
    items = request.query_params.multi_items()
    for name in ("query", "operationName", "variables", "extensions"):
        values = [value for key, value in items if key == name]
        if len(values) > 1:
            raise WireError(f"The URL gives '{name}' {len(values)} times; give it once.",
                            code="BAD_REQUEST", headers=_NO_STORE)  # fmt: skip
        if not values:
            continue
        if name in {"variables", "extensions"}:
            operation[name] = parse_json(values[0].encode("utf-8", "surrogatepass"))
        else:
            operation[name] = values[0]
    return operation


def _resolve(gateway: Gateway, agency: str, operation: object) -> Resolved | Prepared:
    """The operation with its text (a persisted query's, by its hash), or its refusal."""
    try:
        return resolve(operation, agency, gateway.documents)
    except DocumentError as error:
        return refused(error.message, error.code)


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
    identity: Identity,
    schema: AgencySchema,
    operations: list[Resolved | Prepared],
    *,
    batch: bool,
    get: bool,
) -> tuple[list[Prepared], RequestCost]:
    """The request's operations, each checked, and their cost; raises the WireError refusing
    the request as a whole before anything runs (batch size, a mutation by GET,
    verifications, windows). Documents sent with their hash are registered once admitted."""
    limits, agency = gateway.settings.limits, identity.agency
    if batch and not 1 <= len(operations) <= limits.max_batch:
        message = f"A batch holds 1 to {limits.max_batch} operations, not {len(operations)}; " \
            "send fewer at once."  # fmt: skip
        raise WireError(message, code="QUERY_TOO_COMPLEX")
    # Every operation is checked before any runs: the cost is the request's (a batch's
    # operations added up), refused as a whole before anything is read.
    prepared = [
        _trusted(gateway, agency, prepare_operation(
            item.body, schema=schema, agency=agency, request_id=trail.request_id, limits=limits
        ), get=get) if isinstance(item, Resolved) else item
        for item in operations
    ]  # fmt: skip
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
    by = f"agency:{agency}" + (f" officer:{identity.officer}" if identity.officer else "")
    for item, ready in zip(operations, prepared, strict=True):
        if isinstance(item, Resolved) and item.register and ready.bounds is not None:
            await gateway.documents.register(agency, ready.query, by=by)
    return prepared, cost


def _trusted(gateway: Gateway, agency: str, ready: Prepared, *, get: bool) -> Prepared:
    """`ready`, or its refusal when its agency runs approved documents only and it is not one
    (DOCUMENT_NOT_APPROVED); raises the 405 refusing a mutation sent by GET."""
    if ready.bounds is None:
        return ready
    document = ready.bounds.document
    kind = operation_kind(document, ready.operation_name)
    if get and kind not in {None, "query"}:  # a URL is replayed: by caches, crawlers, history
        allow = {"Allow": "POST", **_NO_STORE}
        raise WireError(f"A {kind} is never run by GET; send it with POST (JSON body).",
                        code="METHOD_NOT_ALLOWED", headers=allow)  # fmt: skip
    schema_only = introspection_only(document, ready.operation_name)
    try:
        gateway.documents.admit(agency, ready.query, introspection=schema_only)
    except DocumentError as error:
        return refused(error.message, error.code)
    return ready


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
