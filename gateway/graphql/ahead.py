"""Plans compiled ahead: an approved document's operations, before its first request.

The gateway calls `compile_ahead` for each approved document (gateway.documents) under each
grant set its agency can be answered with (no duty named, and each duty it holds), at start,
when a document is approved and when the policy changes. The document is validated as a
request's would be (and remembered by the schema, so the first request skips validation too),
and each of its operations, by name and, for a document of one operation, without one, gets
its plan in the process's plan cache (gateway.graphql.plan.PLANS): the first request is a hit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from graphql import OperationDefinitionNode

from gateway.graphql.execution import prepare_operation
from gateway.graphql.plan import PLANS

if TYPE_CHECKING:
    from gateway.graphql.schemas import AgencySchema
    from gateway.settings import Limits
    from policies.grants import Grants

__all__ = ["compile_ahead"]


def compile_ahead(
    query: str,
    *,
    schema: AgencySchema,
    grants: Grants,
    policy_version: str,
    limits: Limits,
) -> int:
    """Compile the plans of every operation in `query` for `grants`; how many were plannable
    (0 when the document does not validate against this schema, or plans are off)."""
    if not PLANS.enabled:
        return 0
    agency = grants.agency.code
    prepared = prepare_operation({"query": query}, schema=schema, agency=agency,
                                 request_id="compile-ahead", limits=limits)  # fmt: skip
    if prepared.bounds is None:  # not valid here (a grant removed since): its requests say so
        return 0
    document = prepared.bounds.document
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    names: list[str | None] = [op.name.value for op in operations if op.name is not None]
    if len(operations) == 1:
        names.append(None)  # clients may leave operationName out
    planned = 0
    for name in names:
        plan = PLANS.plan_for(schema, document, query=query, operation_name=name,
                              grants=grants, policy_version=policy_version)  # fmt: skip
        planned += plan is not None
    return planned
