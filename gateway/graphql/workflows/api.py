"""The workflows in GraphQL: the only mutations; base data stays read-only (Art. 19, 22, 23).

    mutation { requestAccess(fields: ["Person.phone"], duty: "civil-affairs", reason: "...")
               { id state status entries { field entry } pending deadline { left } } }
    mutation { fileObjection(record: "Person:11010519491231002X",
                             field: "Person.maritalStatus", reason: "...") { id status } }
    { accessRequests { id state } objections { id status } notifications { objection field } }
    { voucher(id: "...") { status supersededBy } }

Every agency may use them: what an agency files and follows is its own (`accessRequests` and
`objections` list the cases it filed; the console is where providers and the administrator
work). An objection names only a record and field the request's own grants can read, in its
row scope (gateway.graphql.workflows.seams); anything else is NOT_FOUND, as if absent. Deadlines
counted in a year without a known arrangement carry their warning beside the date and in
`extensions.warnings` (`attach_warnings`). A `WorkflowError` answers with its `code`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import strawberry

from gateway.graphql.workflows.seams import can_read_in
from gateway.graphql.workflows.types import (
    AccessRequestView,
    NotificationView,
    ObjectionView,
    VoucherWithStatus,
    WorkflowContext,
    access_view,
    notification_view,
    objection_view,
)
from gateway.workflows.errors import WorkflowError
from gateway.workflows.types import Actor
from resolvers.declarations import declared
from resolvers.errors import ResolverError
from resolvers.evidence import find_voucher
from resolvers.root import Query

if TYPE_CHECKING:
    from gateway.workflows.service import WorkflowService
    from policies.grants import Policy
    from resolvers.context import RequestContext

__all__ = ["Mutation", "WorkflowContext", "WorkflowQuery", "attach_warnings"]


Info = strawberry.Info[WorkflowContext, None]


class WorkflowAnswerError(ResolverError):
    """A workflow refusal as the client sees it: the core's message and code."""

    def __init__(self, error: WorkflowError) -> None:
        super().__init__(str(error))
        self.code = error.code


class WorkflowsUnavailableError(ResolverError):
    """The resolvers run without a gateway (no workflow store)."""

    code = "INTERNAL_SERVER_ERROR"


def attach_warnings(response: dict[str, Any], context: RequestContext) -> None:
    """Put the deadline warnings an operation met into its `extensions.warnings` (once each)."""
    warnings = getattr(context, "warnings", None)
    if warnings:
        extensions = response.setdefault("extensions", {})
        extensions["warnings"] = list(dict.fromkeys([*extensions.get("warnings", ()), *warnings]))


def _wired(info: Info) -> tuple[WorkflowContext, WorkflowService, Policy, Actor]:
    context = info.context
    workflows = getattr(context, "workflows", None)
    policy = getattr(context, "policy", None)
    if not isinstance(context, WorkflowContext) or workflows is None or policy is None:
        raise WorkflowsUnavailableError("No workflow store is configured.")
    actor = Actor(agency=context.grants.agency.code, officer=context.officer)
    return context, workflows, policy, actor


# -- root fields ------------------------------------------------------------------------------


@strawberry.type(name="Query")
class WorkflowQuery(Query):
    """The root query with the workflows' fields and the voucher's status."""

    @strawberry.field(
        description="A voucher this agency received (Art. 23): who got what, when, signed, and "
        "whether a correction superseded it (Art. 22). Another agency's voucher id is not found.",
        metadata=declared(free=("id",)),  # its own vouchers only: the id reveals nothing
    )
    async def voucher(self, info: Info, id: str) -> VoucherWithStatus | None:
        found = await find_voucher(info, id)  # type: ignore[arg-type]  # a RequestContext too
        if found is None:
            return None
        _, workflows, _, _ = _wired(info)
        try:
            superseded = await workflows.store.superseded_by(found.id)
        except WorkflowError as error:
            raise WorkflowAnswerError(error) from None
        return VoucherWithStatus(
            id=found.id, issued_at=found.issued_at, agency=found.agency,
            request_id=found.request_id, datasets=found.datasets, data_sha256=found.data_sha256,
            key_id=found.key_id, signature=found.signature, signature_valid=found.signature_valid,
            status="superseded" if superseded else "current", superseded_by=list(superseded),
        )  # fmt: skip

    @strawberry.field(description="The access requests this agency filed, newest first (Art. 19).")
    async def access_requests(self, info: Info) -> list[AccessRequestView]:
        context, workflows, policy, actor = _wired(info)
        try:
            found = await workflows.access(policy).for_agency(actor, role="requester")
        except WorkflowError as error:
            raise WorkflowAnswerError(error) from None
        return [access_view(f, context) for f in found]

    @strawberry.field(description="The objections this agency filed, newest first (Art. 22).")
    async def objections(self, info: Info) -> list[ObjectionView]:
        context, workflows, policy, actor = _wired(info)
        try:
            found = await workflows.objections(policy).for_agency(actor, role="requester")
        except WorkflowError as error:
            raise WorkflowAnswerError(error) from None
        return [objection_view(f, context) for f in found]

    @strawberry.field(
        description="Corrections of values this agency received, newest first (Art. 22)."
    )
    async def notifications(self, info: Info) -> list[NotificationView]:
        _, workflows, _, actor = _wired(info)
        try:
            found = await workflows.store.notifications(actor.agency)
        except WorkflowError as error:
            raise WorkflowAnswerError(error) from None
        return [notification_view(n) for n in found]


@strawberry.type(description="The workflows' steps an agency takes; nothing here writes base data.")
class Mutation:
    @strawberry.mutation(
        description="Ask for fields this agency cannot read today, for one of its duties and "
        "why (Art. 19): answered at once when the catalogue already grants them to that duty.",
        # Asking reveals nothing: the answer names catalogue entries, never a value.
        metadata=declared(free=("fields", "duty", "reason")),
    )
    async def request_access(
        self, info: Info, fields: list[str], duty: str, reason: str
    ) -> AccessRequestView:
        context, workflows, policy, actor = _wired(info)
        access = workflows.access(policy, request_id=context.request_id)
        try:
            found = await access.file(actor, duty=duty, fields=fields, reason=reason)
        except WorkflowError as error:
            raise WorkflowAnswerError(error) from None
        return access_view(found, context)

    @strawberry.mutation(
        description="Dispute one value this agency received: a record (`Type:key`) and field "
        "(`Type.field`) it can read (Art. 22). Do not quote personal values in the reason.",
        # A record and field the agency cannot read are refused as if absent (seams.can_read_in).
        metadata=declared(free=("record", "field", "reason")),
    )
    async def file_objection(
        self, info: Info, record: str, field: str, reason: str
    ) -> ObjectionView:
        context, workflows, policy, actor = _wired(info)
        objections = workflows.objections(
            policy, request_id=context.request_id, can_read=can_read_in(context)
        )
        try:
            found = await objections.file(actor, record=record, field=field, reason=reason)
        except WorkflowError as error:
            raise WorkflowAnswerError(error) from None
        return objection_view(found, context)
