"""The workflows as the gateway runs them (Art. 19, 22; docs/workflows.md).

service     Workflows: the case store, the working-day calendar, the audit recorder and the
            policy, put together for one gateway process (GraphQL, the console and the CLI)
publishing  an approved access request becomes a grant: the author rule added to the rules
            file and published like a reload (Art. 9, 19)

In the HTTP room because publishing is a policy change (gateway.policy) and the console serves
these cases: the workflows' core (gateway.workflows) imports neither.
"""

from __future__ import annotations

from gateway.http.workflows.service import Workflows

__all__ = ["Workflows"]
