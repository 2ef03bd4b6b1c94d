"""The workflows' GraphQL types and how the core's views become them (graphql.workflows.api).

Deadlines counted in a year without a known arrangement keep their warning beside the date and
add it to the request context's `warnings`, which the gateway puts into `extensions.warnings`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import strawberry

from resolvers.context import RequestContext
from resolvers.evidence import Voucher

if TYPE_CHECKING:
    from gateway.workflows.access import AccessRequest
    from gateway.workflows.objections import Objection
    from gateway.workflows.service import WorkflowService
    from gateway.workflows.store import Notification
    from gateway.workflows.types import WorkflowEvent
    from gateway.workflows.working_days import Remaining
    from policies.grants import Policy

__all__ = [
    "AccessRequestView",
    "NotificationView",
    "ObjectionView",
    "VoucherWithStatus",
    "WorkflowContext",
    "access_view",
    "notification_view",
    "objection_view",
]


@dataclass(kw_only=True)
class WorkflowContext(RequestContext):
    """The request context with the workflows behind it (the gateway builds this one)."""

    workflows: WorkflowService | None = None
    #: The policy the request is answered under (its catalogue answers the workflows).
    policy: Policy | None = None
    #: Deadline warnings met while answering, for `extensions.warnings`.
    warnings: list[str] = field(default_factory=list)


@strawberry.type(description="A deadline in China's working days, and where the case stands.")
class WorkingDayDeadline:
    working_days: int = strawberry.field(description="How many working days it counts.")
    day: str = strawberry.field(description="Its last working day (YYYY-MM-DD, China).")
    ends_at: str = strawberry.field(description="When it passes: 24:00 China time, in UTC.")
    left: int = strawberry.field(description="Working days left, today included; 0 once over.")
    overdue: bool
    warnings: list[str] = strawberry.field(
        description="A year counted Monday to Friday, without its holidays: check the date."
    )


@strawberry.type(description="One step of a case: what was done, by whom, when and why.")
class CaseStep:
    step: int
    action: str
    state: str
    at: str
    agency: str
    officer: str | None
    reason: str | None


@strawberry.type(description="A field the catalogue already grants, and the entry that does.")
class CatalogueEntry:
    field: str
    entry: str = strawberry.field(
        description="`catalog:datasets/ID/field`, or `rules:FILE:LINE` for an earlier approval."
    )


@strawberry.type(
    name="AccessRequest",
    description="An access request (Art. 19): open at once when the catalogue grants every "
    "field to the duty, else decided by the government; then 5 working days to provide.",
)
class AccessRequestView:
    id: str
    duty: str
    fields: list[str]
    reason: str
    filed_at: str
    state: str = strawberry.field(
        description="open, filed, forwarded, approved, refused or available."
    )
    status: str = strawberry.field(description="The state, or overdue past the deadline.")
    entries: list[CatalogueEntry]
    pending: list[str] = strawberry.field(description="The fields the case is about.")
    providers: list[str]
    available_from: list[str]
    forwarded_reference: str | None
    decision: str | None
    decision_reference: str | None
    until: str | None = strawberry.field(description="The last day of a time-limited grant.")
    deadline: WorkingDayDeadline | None = strawberry.field(
        description="The providers' 5 working days from an approval (Art. 19 para 2)."
    )
    history: list[CaseStep]


@strawberry.type(
    name="Objection",
    description="An objection to one shared value (Art. 22): checked by the platform and the "
    "provider within 3 working days each; a correction reaches every earlier recipient.",
)
class ObjectionView:
    id: str
    record: str
    field: str
    reason: str
    filed_at: str
    state: str = strawberry.field(
        description="filed, with-provider, correcting, dismissed or corrected."
    )
    status: str = strawberry.field(description="The state, or overdue past the deadline.")
    provider: str
    outcome: str | None = strawberry.field(
        description="technical, source-wrong or source-right, once checked."
    )
    notified: bool = strawberry.field(
        description="Every agency that received the old value was notified."
    )
    deadline: WorkingDayDeadline | None
    history: list[CaseStep]


@strawberry.type(
    name="Notification",
    description="A value this agency received was corrected (Art. 22); its vouchers for it "
    "now report `superseded`.",
)
class NotificationView:
    id: str
    objection: str
    record: str
    field: str
    first_received_at: str
    last_received_at: str
    requests: int
    created_at: str


@strawberry.type(
    name="Voucher",
    description="A signed voucher: proof of exactly what data was returned to which agency, "
    "when (Art. 23). Verify it offline with `govgate voucher verify`.",
)
class VoucherWithStatus(Voucher):
    status: str = strawberry.field(
        description="current, or superseded once a value it covered was corrected (Art. 22)."
    )
    superseded_by: list[str] = strawberry.field(
        description="The objections whose corrections supersede it, oldest first."
    )


# -- views ------------------------------------------------------------------------------------


def _deadline(remaining: Remaining | None, context: WorkflowContext) -> WorkingDayDeadline | None:
    if remaining is None:
        return None
    context.warnings.extend(remaining.warnings)
    due = remaining.deadline
    return WorkingDayDeadline(
        working_days=due.working_days, day=due.day.isoformat(),
        ends_at=due.ends_at.strftime("%Y-%m-%dT%H:%M:%SZ"), left=remaining.left,
        overdue=remaining.overdue, warnings=list(remaining.warnings),
    )  # fmt: skip


def _history(events: tuple[WorkflowEvent, ...]) -> list[CaseStep]:
    return [
        CaseStep(step=e.step, action=e.action, state=e.state, at=e.at, agency=e.agency,
                 officer=e.officer, reason=e.reason)
        for e in events
    ]  # fmt: skip


def access_view(found: AccessRequest, context: WorkflowContext) -> AccessRequestView:
    return AccessRequestView(
        id=found.id, duty=found.duty, fields=list(found.fields), reason=found.reason,
        filed_at=found.filed_at, state=found.state, status=found.status,
        entries=[CatalogueEntry(field=f, entry=e) for f, e in sorted(found.entries.items())],
        pending=list(found.pending), providers=list(found.providers),
        available_from=list(found.available_from),
        forwarded_reference=found.forwarded_reference, decision=found.decision,
        decision_reference=found.decision_reference, until=found.until,
        deadline=_deadline(found.deadline, context), history=_history(found.history),
    )  # fmt: skip


def objection_view(found: Objection, context: WorkflowContext) -> ObjectionView:
    return ObjectionView(
        id=found.id, record=found.record, field=found.field, reason=found.reason,
        filed_at=found.filed_at, state=found.state, status=found.status,
        provider=found.provider, outcome=found.outcome,
        notified=any(e.action == "notified" for e in found.history),
        deadline=_deadline(found.deadline, context), history=_history(found.history),
    )  # fmt: skip


def notification_view(found: Notification) -> NotificationView:
    return NotificationView(
        id=found.id, objection=found.objection, record=found.record, field=found.field,
        first_received_at=found.first_received_at, last_received_at=found.last_received_at,
        requests=found.requests, created_at=found.created_at,
    )  # fmt: skip
