"""Compiled plans: each operation compiled once into statements and a response shape, then run
at the driver (docs/plans.md).

    compiler  compile_plan: a validated operation -> Plan, or None when not plannable
    model     Plan and its parts: statements (slots), record shapes (nodes), root fields
    links     the links between record types, as data
    sql       statement texts per dialect
    drivers   asyncpg, sqlite3 in worker threads, SQLAlchemy's pool for the rest
    run       run_plan: variables, arguments, statements level by level, the response
    seals     the seal check on a plan's row (Art. 23)
    cache     PlanCache: bounded, by policy, grants and scopes, document and operation

`planned` is what the gateway's execution calls: the plan's answer for an operation, or None
to run the resolvers (not plannable, plans switched off, or a plan that failed unexpectedly).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from gateway.graphql.plan.cache import PlanCache
from gateway.graphql.plan.compiler import compile_plan
from gateway.graphql.plan.model import Plan
from gateway.graphql.plan.run import Outcome, run_plan
from gateway.tracing import span

if TYPE_CHECKING:
    from collections.abc import Mapping

    from graphql import DocumentNode

    from gateway.graphql.schemas import AgencySchema
    from resolvers.context import RequestContext

__all__ = ["PLANS", "Outcome", "Plan", "PlanCache", "compile_plan", "planned", "run_plan"]

log = logging.getLogger("govgate.gateway")

#: This process's plans.
PLANS = PlanCache()


async def planned(
    query: str,
    document: DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
    *,
    schema: AgencySchema,
    context: RequestContext,
) -> Outcome | None:
    """The answer of the plan for this operation, or None to answer it with the resolvers."""
    if not PLANS.enabled:
        return None
    with span("plan"):  # plan.cache (hit, compile) and plan.hash: noted by the cache
        plan = PLANS.plan_for(
            schema,
            document,
            query=query,
            operation_name=operation_name,
            grants=context.grants,
            policy_version=context.policy_version,
        )
    if plan is None:
        return None
    if plan.verifies and getattr(context, "verification_limits", None) is not None:
        # Limits on verifying a subject (Art. 24, 34(4)) are counted by the resolver: a plan
        # must never be the way around them, so such operations stay on the resolver path.
        return None
    try:
        return await run_plan(plan, variables, context)
    except Exception:  # a plan that fails where resolvers would not: answer with them instead
        log.exception("plan failed in request %s; the resolvers answer it", context.request_id)
        PLANS.fallbacks += 1
        return None
