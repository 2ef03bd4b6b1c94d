"""The ASGI application: GraphQL over HTTP, GraphiQL, health, metrics, and policy reload.

A request: the bearer token names the agency (gateway.identity); its grants and schema come
from the policy in force (`Served`, swapped whole on reload, so a request in flight keeps the
policy it started with); the operation is validated against that schema and executed; every
response carries an `X-Request-Id`.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from gateway.audit import AuditStore, AuditWriter
from gateway.audit.publisher import WitnessPublisher
from gateway.audit.witness import open_witness
from gateway.body import BodyError, parse_json, read_body
from gateway.catalog_history import ApprovalRequiredError, approval_reference, require_approval
from gateway.console import console_routes  # issue 13 hook
from gateway.errors import AuthenticationError
from gateway.evidence import GatewayEvidence
from gateway.execution import Prepared, RequestCost, prepare_operation, run_operation
from gateway.graphiql import graphiql_page
from gateway.identity import Authenticator, Identity, IdentityConfig, unauthenticated_response
from gateway.metrics import Metrics
from gateway.middleware import AuditedRequests, error_response, http_error, trail_of, wants_page
from gateway.policy_sync import PolicyFollower, PolicyStore, Publication, StoredPolicy
from gateway.ratelimit import (
    DatabaseWindows,
    RateLimiter,
    retry_after_of,
    too_many_verifications,
)
from gateway.revocation import Revocations, RevocationStore
from gateway.served import PolicyTexts, Served
from gateway.settings import ConfigError
from gateway.vouchers import CanonicalFormError
from gateway.vouchers.store import voucher_row
from gateway.vouchers.store import vouchers as vouchers_table
from gateway.workflows.api import WorkflowContext, attach_warnings  # issue 13 hook
from gateway.workflows.services import Workflows  # issue 13 hook
from policies.diff import PolicyDiff, diff_policies
from policies.errors import DutyError, DutyRequiredError, PolicyError
from resolvers.fetch import DEFAULT_TIMEOUT
from sources.engines import SourceOptions, make_engine

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from sqlalchemy.ext.asyncio import AsyncEngine
    from starlette.requests import Request

    from gateway.schemas import AgencySchema
    from gateway.settings import Settings
    from gateway.trail import Trail
    from policies.grants import Grants
    from resolvers.context import RequestContext

__all__ = ["Gateway", "Served", "create_app"]

log = logging.getLogger("govgate.gateway")
_STATIC = Path(__file__).parent / "static"


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _time_limit(options: SourceOptions) -> float:
    """Seconds a source gets per statement: the server's limit plus the time to connect."""
    if not options.statement_timeout_ms:
        return DEFAULT_TIMEOUT
    return options.statement_timeout_ms / 1000 + options.connect_timeout_s


#: How long /readyz waits for each database.
READY_TIMEOUT = 2.0


async def _probe(engine: AsyncEngine) -> dict[str, Any]:
    """Whether `engine` answers `SELECT 1` in time, and how fast (ms)."""
    started = time.perf_counter()
    try:
        async with asyncio.timeout(READY_TIMEOUT), engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except TimeoutError:
        return {"ok": False, "error": f"no answer within {READY_TIMEOUT:g} s"}
    except (OSError, SQLAlchemyError) as error:
        return {"ok": False, "error": f"{type(error).__name__}: cannot be reached"}
    return {"ok": True, "latencyMs": round((time.perf_counter() - started) * 1000, 1)}


class Gateway:
    """The gateway's state across requests: settings, sources, identity, the served policy.

    `approval` is the approval reference (Art. 9) for starting on files that remove shared
    information relative to the newest published policy (`govgate serve --approval REF`).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Callable[[], datetime] = _utc_now,
        approval: str | None = None,
    ) -> None:
        self.settings = settings
        self.approval = approval
        #: The files' changes awaiting approval while the published policy is served instead.
        self.unapproved: PolicyDiff | None = None
        #: The time (aware). Audit records and vouchers carry it; the served policy is decided
        #: as of its local date (temporary rules end at midnight).
        self.clock = clock
        self.metrics = Metrics.from_environment()
        # Built from the files now, so a broken catalogue stops the start at once; start() then
        # publishes it to the policy store, or adopts what other processes published.
        self.served = Served.build(PolicyTexts.read(settings), self.today())
        self.metrics.serving(self.served.policy.version)
        _freeze()
        self.engines: dict[str, AsyncEngine] = {
            name: make_engine(url, options=settings.source_options.get(name))
            for name, url in settings.sources.items()
        }
        #: Seconds each source gets per statement before its fields turn SOURCE_UNAVAILABLE:
        #: the server's own limit, plus the time to connect (Art. 20: nothing hangs).
        self.timeouts = {
            name: _time_limit(settings.source_options.get(name, SourceOptions()))
            for name in settings.sources
        }
        try:
            identity = IdentityConfig(
                issuer=settings.issuer,
                audience=settings.audience,
                algorithms=settings.algorithms,
                public_keys=settings.public_keys,
                jwks_url=settings.jwks_url,
                max_lifetime_seconds=settings.max_token_lifetime,
                require_jti=settings.require_jti,
            )
        except ValueError as error:  # a sentence for the operator, never a traceback
            raise ConfigError(f"[identity] {error} (docs/deploy-config.md)") from None
        self.authenticator = Authenticator(
            identity,
            is_known_agency=lambda code: code in self.served.policy.grants,
            is_revoked=lambda jti: self.revocations.is_revoked(jti),  # noqa: PLW0108 (made below)
        )
        self._reload_lock = asyncio.Lock()
        self.evidence = GatewayEvidence(settings, self.engines)
        self.audit_store = AuditStore(settings.audit_url, signer=self.evidence.keyring.sign)
        self.audit = AuditWriter(self.audit_store)
        self.audit.on_commit = self._audited
        # Art. 28: the signed head goes to witnesses the gateway cannot rewrite, in the background.
        witnessing = settings.witnessing
        self.witnesses = WitnessPublisher(
            self.audit_store, [open_witness(w) for w in witnessing.witnesses],
            every=witnessing.witness_every, interval_s=witnessing.witness_interval_s,
            timeout_s=witnessing.witness_timeout_s, clock=self.timestamp,
            on_result=self.metrics.witnessed,
        )  # fmt: skip
        self.metrics.watch({**self.engines, "audit": self.audit_store.engine})
        self.policy_store = PolicyStore(self.audit_store.engine)
        self.policy_follower = PolicyFollower(
            self.policy_store, settings.audit_url, self._adopt_published
        )
        self.policy_id = 0
        self.revocations = Revocations(RevocationStore(self.audit_store.engine), settings.audit_url)
        # Shared by every process on the gateway's database: docs/security.md says why.
        self.limiter = RateLimiter(
            settings.rate_limits, DatabaseWindows(self.audit_store.engine), self.metrics
        )
        self.limiter.check_agencies(self.served.policy.grants)
        self.workflows = Workflows.for_gateway(self)  # issue 13 hook: access requests, objections

    @property
    def policy_id(self) -> int:
        """The policy_versions row this process serves (0 before start())."""
        return self._policy_id

    @policy_id.setter
    def policy_id(self, row: int) -> None:
        self._policy_id = row
        self.metrics.policy_row.set(row)

    def today(self) -> date:
        """The local date by the gateway's clock."""
        return self.clock().astimezone().date()

    def timestamp(self) -> str:
        """Now, as audit records and vouchers write it: ISO 8601 UTC, microseconds, `Z`."""
        return self.clock().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    async def start(self) -> None:
        """Open the audit store (creating it if new) and start its writer."""
        await self.audit_store.create()
        await self.workflows.start()  # issue 13 hook: the workflow tables beside the audit log
        await self.evidence.start()
        await self.policy_store.create()
        self.policy_id = await self._publish_at_start()
        await self.revocations.start()
        await self.limiter.start()
        self.audit.start()
        self.witnesses.start()
        if not self.witnesses.witnesses and self.audit_store.engine.dialect.name != "sqlite":
            log.warning("no audit witness is configured ([audit] witnesses): a log rewritten "
                        "with the gateway's own key would verify (docs/security.md)")  # fmt: skip
        self.policy_follower.start()

    def _audited(self, records: int, seconds: float) -> None:
        """The audit writer committed a batch: metrics, and the witnesses' count."""
        self.metrics.audited(records, seconds)
        self.witnesses.committed(records)

    async def commit(self, trail: Trail) -> None:
        """Write the request's audit record (Art. 28, 34); gateway.middleware.audited releases
        the response only after this returns. Raises AuditUnavailableError when it cannot."""
        with self.metrics.pending():
            await self.audit.record(trail.entry(), trail.evidence)

    async def readiness(self) -> dict[str, dict[str, Any]]:
        """`SELECT 1` on every source and the audit store, each within READY_TIMEOUT seconds."""
        targets = {**self.engines, "audit": self.audit_store.engine}
        results = await asyncio.gather(*(_probe(engine) for engine in targets.values()))
        return dict(zip(targets, results, strict=True))

    async def current(self) -> Served:
        """The policy in force today: on the first request of a new day, decide again.

        Author rules can end on a date (`until`), so grants computed yesterday may be wrong
        today. The compiled files are not re-read: that is what an explicit reload is for.
        """
        served, today = self.served, self.today()
        if served.policy.day == today:
            return served
        async with self._reload_lock:
            if self.served.policy.day != today:
                self._swap(await asyncio.to_thread(self.served.for_day, today))
                log.info("policy decided anew for %s", today.isoformat())
        return self.served

    async def reload(
        self, *, approval: str | None = None, by: Identity | None = None
    ) -> tuple[str, str, PolicyDiff]:
        """Load the catalogue and rules files again, publish them to every gateway process and
        swap the new policy in here; (old, new) version and what changed.

        Raises PolicyError and keeps the old policy when the files have problems (Art. 19:
        in-catalogue access opens at once, but never on a broken catalogue), and
        ApprovalRequiredError when they remove shared information without `approval` (Art. 9).
        """
        async with self._reload_lock:
            old = self.served.policy.version
            # Compiling and precomputing grants takes seconds: not on the event loop.
            texts = await asyncio.to_thread(PolicyTexts.read, self.settings)
            served = await asyncio.to_thread(Served.build, texts, self.today())
            baseline = self.served
            if baseline.policy.day != served.policy.day:  # compare as of one day
                baseline = await asyncio.to_thread(baseline.for_day, served.policy.day)
            diff = diff_policies(baseline.policy, served.policy)
            latest = await self.policy_store.latest()
            if latest is not None and latest.version == served.policy.version:
                self.policy_id = latest.id  # published (so approved) by another process
            else:
                require_approval(diff, approval)
                self.policy_id = await self._publish(
                    served, "reload", diff=diff, approval=approval, by=by
                )
            self.unapproved = None
            self._swap(served)
            log.info("policy reloaded: %s -> %s", old, served.policy.version)
            return old, served.policy.version, diff

    async def _publish_at_start(self) -> int:
        """Publish the files' policy unless it is the newest published already, or removes
        shared information from it without an approval: then serve the published policy
        instead and say so loudly (Art. 9; docs/policies.md, Putting a change into force)."""
        latest = await self.policy_store.latest()
        if latest is None:
            return await self._publish(self.served, "start-up", approval=self.approval)
        if latest.version == self.served.policy.version:
            return latest.id
        try:
            baseline = await asyncio.to_thread(self._adopt, latest)
        except PolicyError as error:  # it cannot be served either: the files are all there is
            log.error("published policy @%d does not build here (%s); the files' policy "
                      "replaces it uncompared", latest.id, error)  # fmt: skip
            return await self._publish(self.served, "start-up", approval=self.approval)
        diff = diff_policies(baseline.policy, self.served.policy)
        if diff.reductions and self.approval is None:
            self.unapproved = diff
            log.error(
                "%s Serving the published policy %s (@%d) instead of %s.",
                ApprovalRequiredError(diff), latest.version, latest.id, diff.new_version,
            )  # fmt: skip
            self._swap(baseline)
            return latest.id
        return await self._publish(self.served, "start-up", diff=diff, approval=self.approval)

    async def _publish(
        self,
        served: Served,
        occasion: Literal["start-up", "reload"],
        *,
        diff: PolicyDiff | None = None,
        approval: str | None = None,
        by: Identity | None = None,
    ) -> int:
        """A new policy_versions row for `served`, recording why (policy_publications)."""
        publication = Publication(
            catalog_version=served.policy.catalog.version,
            occasion=occasion,
            agency=by.agency if by else None,
            officer=by.officer if by else None,
            approval=approval,
            removed=tuple(change.as_dict() for change in diff.reductions) if diff else (),
            added=len(diff.additions) if diff else 0,
        )
        published = await self.policy_store.publish(
            served.texts, served.policy, at=self.timestamp(), publication=publication
        )
        log.info("policy %s published (id %d)", served.policy.version, published)
        return published

    async def _adopt_published(self, newest: int) -> None:
        """Another process published policy row `newest`: serve it too."""
        if newest <= self.policy_id:
            return
        async with self._reload_lock:
            stored = await self.policy_store.latest()
            if stored is None or stored.id <= self.policy_id:
                return
            if stored.version != self.served.policy.version:
                try:
                    served = await asyncio.to_thread(self._adopt, stored)
                except PolicyError as error:  # published by a process that accepted it
                    log.error("published policy %s does not build here: %s", stored.id, error)
                    self.policy_id = stored.id  # do not retry it every second
                    return
                self._swap(served)
                log.info("policy %s adopted from the store (id %d)", stored.version, stored.id)
            self.policy_id = stored.id

    def _adopt(self, stored: StoredPolicy) -> Served:
        today = self.today()
        if stored.grants.get("day") == today.isoformat():
            return Served.adopt(stored.texts, stored.compiled, stored.grants, today)
        return Served.build(stored.texts, today)  # published on another day: decide anew

    def _swap(self, served: Served) -> None:
        self.served = served
        self.metrics.serving(served.policy.version)
        _freeze()

    async def close(self) -> None:
        """Stop following the policy, write the audit records still pending, then dispose of
        every engine."""
        await self.policy_follower.close()
        await self.revocations.close()
        await self.audit.close()
        await self.witnesses.close()  # the final head, once every record is written
        await self.audit_store.close()
        await self.workflows.close()  # issue 13 hook
        await self.evidence.close()
        for engine in self.engines.values():
            await engine.dispose()
        self.metrics.close()

    def context(
        self, served: Served, grants: Grants, request_id: str, officer: str | None = None
    ) -> RequestContext:
        """A fresh request context (its own DataLoaders) for one operation."""
        return WorkflowContext(  # issue 13 hook: the workflows reach the resolvers
            workflows=self.workflows,
            policy=served.policy,
            officer=officer,
            now=self.clock(),
            timeouts=self.timeouts,
            evidence=self.evidence,
            verification_limits=self.limiter,
            grants=grants,
            catalog=served.policy.catalog,
            policy_version=served.policy.version,
            engines=self.engines,
            max_page_size=self.settings.limits.max_page_size,
            request_id=request_id,
        )


def _freeze() -> None:
    """Move the long-lived objects (schemas, grants, policy) out of the collector's sight.

    Without this each full collection walks the ~100k objects built at start-up; measured in
    bench/gateway.sh: a third of the server's time, and most of its p99 latency.
    """
    gc.collect()
    gc.freeze()


def _lifespan(gateway: Gateway) -> Callable[[Starlette], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        await gateway.start()
        try:
            yield
        finally:
            await gateway.close()

    return lifespan


def create_app(
    settings: Settings,
    *,
    clock: Callable[[], datetime] = _utc_now,
    approval: str | None = None,
) -> Starlette:
    """The ASGI app for `settings` (raises PolicyError if the catalogue or rules are broken).

    `clock` gives the current time, time-zone aware (tests pin it); `approval` approves
    starting on files that remove shared information (Art. 9; see Gateway).
    """
    gateway = Gateway(settings, clock=clock, approval=approval)
    limits = settings.limits

    async def health(_request: Request) -> Response:
        body: dict[str, Any] = {"status": "ok", "policyVersion": gateway.served.policy.version}
        if gateway.unapproved is not None:  # Art. 9: the files wait for an approval
            waiting = gateway.unapproved
            body["awaitingApproval"] = {"version": waiting.new_version,
                                        "reductions": len(waiting.reductions)}  # fmt: skip
        return JSONResponse(body)

    async def ready(_request: Request) -> Response:
        """Each source's and the audit store's health (Art. 20); 503 unless all answer."""
        checks = await gateway.readiness()
        ok = all(check["ok"] for check in checks.values())
        body = {"status": "ready" if ok else "degraded", "checks": checks,
                "policyVersion": gateway.served.policy.version,
                # Shown, not counted: a witness outage must not drain every gateway (Art. 28).
                "witnesses": gateway.witnesses.status()}  # fmt: skip
        return JSONResponse(body, status_code=200 if ok else 503)

    async def graphiql(request: Request) -> Response:
        if not wants_page(request.headers):  # a refused API call: audited like any other
            return refuse(
                trail_of(request), 405, "Send GraphQL operations with POST (JSON body); GET "
                "serves GraphiQL to browsers.", "METHOD_NOT_ALLOWED",
            )  # fmt: skip
        return graphiql_page()  # the page itself reads no data: not audited

    async def identify(request: Request, trail: Trail) -> Identity | Response:
        """The calling agency (and officer), or the 401/503/403 answer refusing its token."""
        try:
            identity = await gateway.authenticator.authenticate(
                request.headers.get("authorization")
            )
        except AuthenticationError as error:
            trail.unauthenticated_because(f"{error.reason}: {error.message}")
            response = unauthenticated_response(error)
            response.headers["X-Request-Id"] = trail.request_id
            return response
        trail.agency, trail.officer = identity.agency, identity.officer
        if settings.require_officer and identity.officer is None:
            return refuse(
                trail, 403, f"This gateway answers only tokens that name the acting officer "
                f"(Art. 29, 34), and this token for {identity.agency} names none; ask your "
                "token issuer for a token with the act claim {\"act\": {\"sub\": \"<officer "
                "id>\"}} (RFC 8693).", "OFFICER_REQUIRED",
            )  # fmt: skip
        return identity

    async def read_json(request: Request, trail: Trail) -> object | Response:
        """The body's JSON (gateway.body: bounded, strict, valid Unicode), or the refusal."""
        try:
            return parse_json(await read_body(request, max_bytes=limits.max_body_bytes))
        except BodyError as error:
            return refuse(trail, error.status, str(error), error.code)

    def refuse(
        trail: Trail, status: int, message: str, code: str, **extensions: object
    ) -> Response:
        trail.refuse(code, message)
        return error_response(status, message, code, trail.request_id, extensions=extensions)

    def bind_duty(request: Request, trail: Trail, served: Served, agency: str) -> Grants | Response:
        """The grants under the duty the request names (`Govgate-Duty`), or the 403 refusing
        it (Art. 18, 21, 34(4); policies.duties). Several headers name no one duty."""
        asked = ",".join(request.headers.getlist("govgate-duty")).strip() or None
        trail.duty = asked[:64] if asked else None  # recorded as asked, even when refused
        try:
            return served.policy.bound_grants(agency, asked)
        except DutyError as error:
            code = "DUTY_REQUIRED" if isinstance(error, DutyRequiredError) else "DUTY_NOT_HELD"
            duties = [{"id": duty, "name": name} for duty, name in error.held]
            return refuse(trail, 403, str(error), code, duties=duties)

    async def graphql(request: Request) -> Response:
        """POST: GraphQL operations; GET: GraphiQL (one route, so a 405 names both)."""
        if request.method in {"GET", "HEAD"}:  # Starlette routes HEAD with GET
            return await graphiql(request)
        return await answer_graphql(request, trail_of(request))

    async def admit(
        trail: Trail, agency: str, schema: AgencySchema, payload: object
    ) -> tuple[list[object], list[Prepared], RequestCost] | Response:
        """The request's operations, each checked, and their cost; or the answer refusing the
        request as a whole before anything runs (batch size, cost, verifications, windows)."""
        batch = isinstance(payload, list)
        operations: list[object] = payload if isinstance(payload, list) else [payload]
        if batch and not 1 <= len(operations) <= limits.max_batch:
            message = f"A batch holds 1 to {limits.max_batch} operations, not " \
                f"{len(operations)}; send fewer at once."  # fmt: skip
            return refuse(trail, 200, message, "QUERY_TOO_COMPLEX")
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
            return throttle.respond(trail)
        return operations, prepared, cost

    async def answer_graphql(request: Request, trail: Trail) -> Response:
        identity = await identify(request, trail)
        if isinstance(identity, Response):
            return identity
        payload = await read_json(request, trail)
        if isinstance(payload, Response):
            return payload
        served = await gateway.current()  # this request keeps it, whatever reloads meanwhile
        trail.policy_version = served.policy.version
        grants = bind_duty(request, trail, served, identity.agency)
        if isinstance(grants, Response):
            return grants
        schema = served.schemas.schema_for(grants)
        batch = isinstance(payload, list)
        admitted = await admit(trail, identity.agency, schema, payload)
        if isinstance(admitted, Response):
            return admitted
        operations, prepared, cost = admitted
        results: list[dict[str, Any]] = []
        for operation, ready in zip(operations, prepared, strict=True):
            trail.operation(operation)
            context = gateway.context(served, grants, trail.request_id, identity.officer)
            result, read = await run_operation(ready, schema=schema, context=context, cost=cost)
            try:
                voucher = await gateway.evidence.attach(
                    result,
                    catalog=served.policy.catalog,
                    grants=grants,
                    request_id=trail.request_id,
                    fields=read,
                    entities={entity for entity, _ in context.returned},
                    now=context.now,
                )
            except CanonicalFormError as error:  # data JSON cannot carry exactly: no voucher
                log.error("no voucher for request %s: %s", trail.request_id, error)
                return refuse(
                    trail, 500, "The answer could not be fixed in a voucher, so it was not "
                    f"released (Art. 23); give request id {trail.request_id} to the platform "
                    "administrator.", "INTERNAL_SERVER_ERROR",
                )  # fmt: skip
            attach_warnings(result, context)  # issue 13 hook: deadline warnings
            trail.result(result)
            trail.fields |= read
            trail.records += [f"{entity}:{key}" for entity, key in context.returned]
            trail.flags += context.flags
            if voucher is not None:
                trail.vouchers.append(voucher.id)
                trail.evidence.append((vouchers_table, voucher_row(voucher)))
            results.append(result)
        return respond(trail, results if batch else results[0], results)

    def respond(trail: Trail, body: object, results: list[dict[str, Any]]) -> Response:
        """The answer to release: 429 when every operation was refused by a rate limit; withheld
        when larger than the byte cap (the cost estimate's backstop)."""
        headers = {"X-Request-Id": trail.request_id}
        wait = retry_after_of(results)
        if wait is not None:
            headers["Retry-After"] = str(wait)
        response = JSONResponse(body, status_code=200 if wait is None else 429, headers=headers)
        if len(response.body) > limits.max_response_bytes:
            message = f"The answer is {len(response.body)} bytes; the limit is " \
                f"{limits.max_response_bytes}, so it was withheld. Ask for smaller pages or " \
                "fewer fields and links at once."  # fmt: skip
            trail.withhold(f"response-withheld:{len(response.body)}")
            return refuse(trail, 200, message, "QUERY_TOO_COMPLEX")
        return response

    async def reload_policy(request: Request) -> Response:
        return await answer_reload(request, trail_of(request))

    async def answer_reload(request: Request, trail: Trail) -> Response:
        identity = await identify(request, trail)
        if isinstance(identity, Response):
            return identity
        trail.policy_version = gateway.served.policy.version
        if not gateway.served.policy.grants_for(identity.agency).administrator:
            return refuse(
                trail, 403, "Only the platform administrator "
                f"({gateway.served.policy.catalog.administrator}) may reload the policy (Art. 5).",
                "FORBIDDEN",
            )  # fmt: skip
        approval = await read_approval(request, trail)
        if isinstance(approval, Response):
            return approval
        try:
            old, new, diff = await gateway.reload(approval=approval, by=identity)
        except (ApprovalRequiredError, PolicyError, OSError, SQLAlchemyError) as error:
            return reload_refused(trail, error)
        trail.flags.append(f"policy-reloaded:{old}->{new}")
        if approval is not None and old != new:
            trail.flags.append(f"policy-approval:{approval}")
        trail.policy_version = new
        return JSONResponse(
            {"previousVersion": old, "policyVersion": new, "changed": old != new,
             "approval": approval, "removed": [c.as_dict() for c in diff.reductions],
             "added": [c.as_dict() for c in diff.additions]},
            headers={"X-Request-Id": trail.request_id},
        )  # fmt: skip

    def reload_refused(trail: Trail, error: Exception) -> Response:
        """The answer to a reload that left the old policy in force."""
        if isinstance(error, OSError | SQLAlchemyError):  # the policy store: nothing swapped
            log.error("policy reload could not publish: %s", error)
            return refuse(
                trail, 503, "The policy store cannot be written, so the new policy was not "
                "published; the old one stays in force. Try again shortly.", "AUDIT_UNAVAILABLE",
            )  # fmt: skip
        status, code, extra = 422, "POLICY_INVALID", dict[str, object]()
        if isinstance(error, ApprovalRequiredError):  # Art. 9: each reduction, listed
            status, code = 409, "APPROVAL_REQUIRED"
            extra["removed"] = [change.as_dict() for change in error.diff.reductions]
        else:
            extra["problems"] = [str(p) for p in getattr(error, "problems", [])]
        trail.refuse(code, str(error))
        body = {"errors": [{"message": str(error), "extensions": {"code": code}}], **extra,
                "policyVersion": gateway.served.policy.version}  # fmt: skip
        return JSONResponse(body, status_code=status, headers={"X-Request-Id": trail.request_id})

    async def read_approval(request: Request, trail: Trail) -> str | Response | None:
        """The approval reference of a reload, from its optional JSON body (Art. 9)."""
        if request.headers.get("content-length", "0") == "0" and \
                "transfer-encoding" not in request.headers:  # fmt: skip
            return None
        payload = await read_json(request, trail)
        if isinstance(payload, Response):
            return payload
        if not isinstance(payload, dict) or set(payload) - {"approval"}:
            return refuse(trail, 400, "The reload body is a JSON object with at most "
                          "\"approval\": \"REF\", the government's approval reference "
                          "(Art. 9).", "BAD_REQUEST")  # fmt: skip
        if payload.get("approval") is None:
            return None
        try:
            return approval_reference(payload["approval"])
        except ValueError as error:
            return refuse(trail, 400, str(error), "BAD_REQUEST")

    routes = [
        Route("/healthz", health, methods=["GET"]),
        Route("/readyz", ready, methods=["GET"]),
        Route("/graphql", graphql, methods=["GET", "POST"]),
        Route("/admin/policy/reload", reload_policy, methods=["POST"]),
        *console_routes(gateway),  # issue 13 hook: the console (before /static: its styles)
        Mount("/static", StaticFiles(directory=_STATIC), name="static"),
    ]
    audited = Middleware(
        AuditedRequests,
        recorder=gateway,
        endpoints=frozenset(route.path for route in routes if isinstance(route, Route)),
        body_timeout_s=settings.server.body_timeout_s,
        max_requests=settings.server.max_requests,
    )
    app = Starlette(
        routes=routes,
        middleware=[audited],  # every request recorded once (gateway.middleware.audited)
        exception_handlers={HTTPException: http_error},
        lifespan=_lifespan(gateway),
    )
    app.router.redirect_slashes = False  # /graphql/ is not /graphql: a 404, recorded
    app.state.gateway = gateway
    return app
