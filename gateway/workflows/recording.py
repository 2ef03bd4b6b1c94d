"""Every workflow step in the tamper-evident audit log: who (agency, officer), when and why.

A step's rows (its events, a new case's filing, notifications, supersessions) and one audit
record per event are written in **one transaction** through `AuditStore.append`, onto the
store's own chain (a command's store registers one of its own; in the gateway it is the
process's chain, and these appends and the writer's batches take turns whole). Not through
the group-commit `AuditWriter`: two steps racing on one case
end in an IntegrityError (the core reports CASE_CHANGED), and in a shared batch that error
would fail every other request's record with it.

The record names the case, step, action, state and the party's reason (`WorkflowEvent.summary`)
and flags `workflow:KIND:ACTION`. It never lists the disputed record or field in `records` or
`fields`: the correction scan (gateway.workflows.corrections) counts exactly those as reads,
and an objection is not a read of the value it disputes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from gateway.trust.audit.entry import AuditEntry
from gateway.workflows.errors import WorkflowStoreError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from gateway.trust.audit.store import AuditStore
    from gateway.workflows.types import Recorder, Row, WorkflowEvent

__all__ = ["WORKFLOW_ENDPOINT", "audit_entry", "audit_recorder"]

#: The `endpoint` of a workflow step's audit record (an HTTP request's is its path).
WORKFLOW_ENDPOINT = "workflow"


def audit_entry(
    event: WorkflowEvent, *, request_id: str | None, policy_version: str | None
) -> AuditEntry:
    """The audit record of one step: who took it, when, why; no record or field read."""
    return AuditEntry(
        at=event.at,
        # The HTTP request (console, GraphQL) the step was taken in; `case:step` from the CLI.
        request_id=request_id or f"{event.case}:{event.step}",
        endpoint=WORKFLOW_ENDPOINT,
        decision="allowed",
        agency=event.agency,
        officer=event.officer,
        reason=event.summary(),
        policy_version=policy_version,
        flags=(f"workflow:{event.kind}:{event.action}", f"case:{event.case}:{event.step}"),
    )


def audit_recorder(
    audit: AuditStore, *, request_id: str | None = None, policy_version: str | None = None
) -> Recorder:
    """A `Recorder` writing each step's rows and audit records in one transaction of `audit`.

    IntegrityError passes through (a lost race: the core answers CASE_CHANGED); any other
    database error is WorkflowStoreError, and nothing of the step is recorded.
    """

    async def record(events: Sequence[WorkflowEvent], rows: Sequence[Row]) -> None:
        entries = [
            audit_entry(e, request_id=request_id, policy_version=policy_version) for e in events
        ]
        try:
            await audit.append(entries, rows)
        except IntegrityError:
            raise
        except (SQLAlchemyError, OSError) as error:
            raise WorkflowStoreError(
                "The step could not be recorded in the audit log "
                f"({type(error).__name__}); nothing was changed. Check that the gateway's "
                "database (audit.url) is reachable, then take the step again."
            ) from None

    return record
