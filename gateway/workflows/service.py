"""What the workflows' callers (GraphQL fields, pages) need of a running workflow service.

`gateway.http.workflows.Workflows` is the one implementation; callers below the HTTP room (the
GraphQL fields in gateway.graphql.workflows) hold it through this Protocol, so the arrows stay
one way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from gateway.workflows.access import AccessRequests
    from gateway.workflows.objections import Objections
    from gateway.workflows.store import WorkflowStore
    from gateway.workflows.types import CanRead
    from policies.grants import Policy

__all__ = ["WorkflowService"]


class WorkflowService(Protocol):
    """Access requests and objections bound to a policy, and the case store."""

    @property
    def store(self) -> WorkflowStore:
        """The case tables (notifications, supersessions)."""

    def access(self, policy: Policy, *, request_id: str | None = None) -> AccessRequests:
        """Access requests under `policy`, each step recorded with `request_id`."""

    def objections(
        self, policy: Policy, *, request_id: str | None = None, can_read: CanRead | None = None
    ) -> Objections:
        """Objections under `policy`; `can_read` is the filing agency's."""
