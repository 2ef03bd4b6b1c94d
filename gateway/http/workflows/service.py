"""The workflows wired to a deployment: its database, calendar, audit log, sources and policy.

One `Workflows` per gateway process (`Workflows.for_gateway`, built with the gateway, started
and closed with it) or per command (`govgate requests ...`, `govgate objections ...`). It hands
out the core's `AccessRequests` and `Objections` bound to the policy in force and to the audit
recorder of the request a step is taken in, and it carries out what the core leaves to the
wiring: an approval published as a grant (gateway.http.workflows.publishing), recorded as well.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from gateway.graphql.workflows.seams import source_reader
from gateway.http.workflows.publishing import publish_approval, require_rules_file
from gateway.settings import ConfigError
from gateway.trust.audit.entry import AuditEntry
from gateway.workflows.access import AccessRequests
from gateway.workflows.catalogue import PolicyCatalogue
from gateway.workflows.errors import CalendarFileError, StepNotAllowedError, WorkflowError
from gateway.workflows.objections import Objections
from gateway.workflows.recording import WORKFLOW_ENDPOINT, audit_recorder
from gateway.workflows.store import WorkflowStore
from gateway.workflows.working_days import WorkingCalendar

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping
    from datetime import date

    from sqlalchemy.ext.asyncio import AsyncEngine

    from gateway.follow import Follower
    from gateway.http.workflows.publishing import Published
    from gateway.policy.served import Served
    from gateway.policy.sync import PolicyStore
    from gateway.settings import Settings
    from gateway.trust.audit.store import AuditStore
    from gateway.workflows.access import AccessRequest
    from gateway.workflows.types import Actor, CanRead
    from policies.grants import Policy

__all__ = ["Decided", "Host", "Workflows"]

log = logging.getLogger("govgate.workflows")


class Host(Protocol):
    """What the workflows use of the gateway (gateway.http.app.Gateway has all of it)."""

    @property
    def settings(self) -> Settings:
        """The deployment."""

    @property
    def audit_store(self) -> AuditStore:
        """The audit log (its appends sign the chain head)."""

    @property
    def policy_store(self) -> PolicyStore:
        """Where policies are published for every process."""

    @property
    def policy_follower(self) -> Follower:
        """Adopts a published policy (`on_publish(row id)`)."""

    @property
    def engines(self) -> Mapping[str, AsyncEngine]:
        """The sources."""

    @property
    def timeouts(self) -> Mapping[str, float]:
        """Seconds each source gets per statement."""

    @property
    def clock(self) -> Callable[[], datetime]:
        """The time, aware."""

    async def current(self) -> Served:
        """The policy in force today."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Decided:
    """A recorded decision, and for an approval what became of its grant."""

    request: AccessRequest
    published: Published | None = None
    #: Why an approval recorded could not be published (then `published` is None): the
    #: administrator publishes it again once that is fixed.
    problem: str | None = None


class Workflows:
    """Access requests and objections of one deployment (docs/workflows.md, Wiring)."""

    def __init__(
        self,
        *,
        settings: Settings,
        audit: AuditStore,
        policies: PolicyStore,
        engines: Mapping[str, AsyncEngine],
        policy: Callable[[], Awaitable[Policy]],
        timeouts: Mapping[str, float] | None = None,
        clock: Callable[[], datetime] | None = None,
        adopt: Callable[[int], Awaitable[None]] | None = None,
    ) -> None:
        """Raises ConfigError when the working-day file (`[workflows] calendar`) has problems."""
        self.settings = settings
        self.audit = audit
        self.policies = policies
        self.engines = engines
        self.timeouts = dict(timeouts or {})
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self._policy = policy
        self._adopt = adopt
        try:
            self.calendar = WorkingCalendar.load(settings.workflows.calendar)
        except CalendarFileError as error:  # refuse to start rather than count deadlines wrong
            raise ConfigError(f"[workflows] calendar: {error}") from None
        except OSError as error:
            raise ConfigError(
                f"[workflows] calendar: cannot read {settings.workflows.calendar} "
                f"({error.strerror}); name the working-day file, or leave the setting out."
            ) from None
        self.store = WorkflowStore(settings.audit_url)
        self.read_source = source_reader(engines, self.timeouts)

    @classmethod
    def for_gateway(cls, gateway: Host) -> Workflows:
        """The workflows of a gateway process: its stores, sources, clock and served policy."""

        async def policy() -> Policy:
            return (await gateway.current()).policy

        return cls(
            settings=gateway.settings,
            audit=gateway.audit_store,
            policies=gateway.policy_store,
            engines=gateway.engines,
            policy=policy,
            timeouts=gateway.timeouts,
            clock=gateway.clock,
            adopt=gateway.policy_follower.on_publish,
        )

    async def start(self) -> None:
        """Create the workflow tables if missing (beside the audit tables)."""
        await self.store.create()

    async def close(self) -> None:
        """Release the connections."""
        await self.store.close()

    async def policy(self) -> Policy:
        """The policy in force."""
        return await self._policy()

    def today(self) -> date:
        """The local date by the clock (the day the policy is decided on)."""
        return self.clock().astimezone().date()

    def access(self, policy: Policy, *, request_id: str | None = None) -> AccessRequests:
        """Access requests under `policy`, each step recorded in the audit log."""
        return AccessRequests(
            self.store, PolicyCatalogue(policy), self.calendar,
            recorder=audit_recorder(self.audit, request_id=request_id,
                                    policy_version=policy.version),
            clock=self.clock,
        )  # fmt: skip

    def objections(
        self, policy: Policy, *, request_id: str | None = None, can_read: CanRead | None = None
    ) -> Objections:
        """Objections under `policy`; `can_read` is the filing agency's (only filing asks)."""
        return Objections(
            self.store, PolicyCatalogue(policy), self.calendar,
            can_read=can_read or _nobody, read_source=self.read_source,
            recorder=audit_recorder(self.audit, request_id=request_id,
                                    policy_version=policy.version),
            clock=self.clock,
        )  # fmt: skip

    async def decide(
        self,
        actor: Actor,
        case_id: str,
        *,
        approved: bool,
        reference: str | None = None,
        reasons: str | None = None,
        until: date | None = None,
        request_id: str | None = None,
    ) -> Decided:
        """Record the government's decision; an approval is then published as a grant.

        An approval is refused before anything is recorded when the deployment cannot write
        its rules file (GrantNotPublishedError): a recorded approval must be able to become a
        grant. If publishing fails after the decision is recorded, `Decided.problem` says why.
        """
        if approved:
            require_rules_file(self.settings)
        policy = await self.policy()
        request = await self.access(policy, request_id=request_id).decide(
            actor, case_id, approved=approved, reference=reference, reasons=reasons, until=until
        )
        if not approved:
            return Decided(request=request)
        return await self._published(request, actor, policy, request_id)

    async def publish(
        self, actor: Actor, case_id: str, *, request_id: str | None = None
    ) -> Decided:
        """Publish an approved request's grant again (after a failure; twice changes nothing)."""
        policy = await self.policy()
        access = self.access(policy, request_id=request_id)
        request = await access.get(actor, case_id)
        if actor.agency != policy.catalog.administrator:
            raise StepNotAllowedError(
                f"{actor.agency} may not publish a grant: only the platform administrator may; "
                "ask them to."
            )
        return await self._published(request, actor, policy, request_id)

    async def _published(
        self, request: AccessRequest, actor: Actor, policy: Policy, request_id: str | None
    ) -> Decided:
        try:
            published = await publish_approval(
                request, settings=self.settings, store=self.policies, baseline=policy, by=actor,
                now=self.clock(), day=self.today(),
            )  # fmt: skip
        except WorkflowError as error:
            log.error("access request %s: grant not published: %s", request.id, error)
            return Decided(request=request, problem=str(error))
        except Exception as error:  # the policy store: the decision stands, publish again
            log.exception("access request %s: grant not published", request.id)
            return Decided(
                request=request,
                problem=f"The grant could not be published ({type(error).__name__}); publish "
                "it again once the gateway's database is reachable.",
            )
        await self._record_publication(request, actor, published, request_id, policy.version)
        if self._adopt is not None:
            await self._adopt(published.policy_id)  # in force here at once, elsewhere in ~1 s
        return Decided(request=request, published=published)

    async def _record_publication(
        self,
        request: AccessRequest,
        actor: Actor,
        published: Published,
        request_id: str | None,
        version: str,
    ) -> None:
        at = self.clock().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        entry = AuditEntry(
            at=at, request_id=request_id or f"{request.id}:publish", endpoint=WORKFLOW_ENDPOINT,
            decision="allowed", agency=actor.agency, officer=actor.officer,
            reason=f"access {request.id} grant published as policy @{published.policy_id} "
            f"({published.version}) on approval {request.decision_reference}",
            policy_version=version,
            flags=("workflow:access:published", f"policy-published:@{published.policy_id}"),
        )  # fmt: skip
        try:
            await self.audit.append([entry])
        except Exception:  # published and in the policy history already: log, do not undo
            log.exception("access request %s: publication not recorded in the audit log",
                          request.id)  # fmt: skip


async def _nobody(_agency: str, _record: object, _field: str) -> bool:
    return False  # filing is the only step that asks, and it passes the agency's own check
