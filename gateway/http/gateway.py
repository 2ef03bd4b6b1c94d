"""The gateway's state across requests: settings, sources, identity, the policy in force, the
audit writer and its witnesses, the rate limiter. Endpoints find it at `request.app.state.gateway`.

`start` opens what it needs (audit store, voucher keys, published policy, revocations,
windows); `current` is the policy in force today; `reload` publishes new files to every process
(Art. 9, 19); `commit` writes a request's audit record before its answer is released (Art. 28);
`close` writes what is pending and lets go of every engine.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from gateway.documents import Documents, DocumentStore
from gateway.follow import Follower
from gateway.graphql.ahead import compile_ahead
from gateway.graphql.workflows.api import WorkflowContext
from gateway.http.metrics import Metrics
from gateway.http.workflows import Workflows
from gateway.identity import Authenticator, Identity, IdentityConfig
from gateway.identity.revocation import Revocations, RevocationStore
from gateway.policy.history import ApprovalRequiredError, require_approval
from gateway.policy.served import PolicyTexts, Served
from gateway.policy.sync import CHANNEL, PolicyStore, Publication, StoredPolicy
from gateway.ratelimit import DatabaseWindows, RateLimiter
from gateway.settings import ConfigError
from gateway.trust.audit import AuditStore, AuditWriter
from gateway.trust.audit.publisher import WitnessPublisher
from gateway.trust.audit.witness import open_witness
from gateway.trust.evidence import GatewayEvidence
from policies.diff import PolicyDiff, diff_policies
from policies.errors import PolicyError
from resolvers.fetch import DEFAULT_TIMEOUT
from sources.engines import SourceOptions, make_engine

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy.ext.asyncio import AsyncEngine

    from gateway.documents import DocumentRow
    from gateway.settings import Settings
    from gateway.trust.trail import Trail
    from policies.grants import Grants
    from resolvers.context import RequestContext

__all__ = ["READY_TIMEOUT", "Gateway", "utc_now"]

log = logging.getLogger("govgate.gateway")


def utc_now() -> datetime:
    """Now, time-zone aware (the default clock)."""
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
        clock: Callable[[], datetime] = utc_now,
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
                token_cache_size=settings.token_cache_size,
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
        self.audit = AuditWriter(
            self.audit_store, checkpoint_interval_s=settings.witnessing.checkpoint_interval_s
        )
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
        self.policy_follower = Follower(
            self.policy_store, settings.audit_url, self._adopt_published, channel=CHANNEL
        )
        self.policy_id = 0
        self.revocations = Revocations(RevocationStore(self.audit_store.engine), settings.audit_url)
        # Shared by every process on the gateway's database: docs/security.md says why.
        self.limiter = RateLimiter(
            settings.rate_limits, DatabaseWindows(self.audit_store.engine), self.metrics
        )
        self.limiter.check_agencies(self.served.policy.grants)
        #: Access requests and objections (Art. 19, 22; docs/workflows.md).
        self.workflows = Workflows.for_gateway(self)
        #: Trusted documents (persisted queries): followed like the policy; approved ones get
        #: their plans compiled ahead (docs/gateway.md).
        self.documents = Documents(
            DocumentStore(self.audit_store.engine), settings.audit_url, settings.documents,
            clock=self.timestamp, on_approved=self._compile_ahead,
        )  # fmt: skip
        self._ahead: asyncio.Task[None] | None = None

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
        await self.workflows.start()  # the workflow tables beside the audit log
        await self.evidence.start()
        await self.policy_store.create()
        self.policy_id = await self._publish_at_start()
        await self.revocations.start()
        await self.limiter.start()
        await self.documents.start()  # compiles the approved documents' plans ahead
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
        """Write the request's audit record (Art. 28, 34); gateway.http.middleware.audited releases
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
        # Plans are per policy version: compile the approved documents' again, a document at
        # a time between requests (hundreds of them would otherwise hold the loop for seconds).
        if self._ahead is not None:
            self._ahead.cancel()
        self._ahead = asyncio.get_running_loop().create_task(self._compile_all_ahead())

    async def _compile_all_ahead(self) -> None:
        """Compile every approved document's plans for the policy in force, yielding to
        requests between documents; stops when another policy is swapped in meanwhile."""
        served, planned = self.served, 0
        rows = self.documents.approved()
        for row in rows:
            if self.served is not served:  # the next swap's run compiles for its policy
                return
            planned += self._plans_ahead(row)
            await asyncio.sleep(0)
        if rows:
            log.info("%d plans compiled ahead for %d approved documents", planned, len(rows))

    def _compile_ahead(self, rows: list[DocumentRow]) -> None:
        """Compile the plans of approved documents `rows` (newly approved: a few) now."""
        planned = sum(self._plans_ahead(row) for row in rows)
        log.info("%d plans compiled ahead for %d approved documents", planned, len(rows))

    def _plans_ahead(self, row: DocumentRow) -> int:
        """Compile approved document `row`'s plans into this process's plan cache, for each
        grant set its agency can be answered with (no duty named; each duty it holds)."""
        served = self.served
        held = served.policy.grants.get(row.agency)
        if held is None:  # an agency no longer in the catalogue: nothing to compile for
            return 0
        planned = 0
        for duty in (None, *held.agency.duties):
            try:
                grants = served.policy.bound_grants(row.agency, duty)
            except PolicyError:  # the catalogue requires a duty: not without one
                continue
            planned += compile_ahead(
                row.query, schema=served.schemas.schema_for(grants), grants=grants,
                policy_version=served.policy.version, limits=self.settings.limits,
            )  # fmt: skip
        return planned

    async def close(self) -> None:
        """Stop following the policy, write the audit records still pending, then dispose of
        every engine."""
        await self.policy_follower.close()
        await self.revocations.close()
        await self.documents.close()
        if self._ahead is not None:
            self._ahead.cancel()
        await self.audit.close()
        await self.witnesses.close()  # the final head, once every record is written
        await self.audit_store.close()
        await self.workflows.close()
        await self.evidence.close()
        for engine in self.engines.values():
            await engine.dispose()
        self.metrics.close()

    def context(
        self, served: Served, grants: Grants, request_id: str, officer: str | None = None
    ) -> RequestContext:
        """A fresh request context (its own DataLoaders) for one operation."""
        return WorkflowContext(  # the resolvers' context, with the workflows they reach
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
