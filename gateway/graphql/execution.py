"""Run the GraphQL operations of one request for one agency: each returns one `Answer`.

Order matters: every operation of the request is parsed (bounded tokens), measured
(gateway.graphql.bounds.measure: depth, aliases, verifications, expanded size, cost) and
validated against the agency's own schema (forbidden names) before any runs; the request's cost,
a batch's operations added up, is checked against its limit; only then do they execute, by their
compiled plan (gateway.graphql.plan) or by the resolvers. Errors are shaped for the client in
gateway.graphql.errors.

An `Answer` is everything the layers above need of one operation, in one value: the response
(data, errors, `extensions.cost`), the fields it read, the records it returned and the flags it
raised. The HTTP layer hands the request's answers to trust, which vouches for them and records
them, and then sends them (docs/architecture.md, "One way back").
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from inspect import isawaitable
from typing import TYPE_CHECKING, Any

from graphql import GraphQLSyntaxError, execute, parse, validate

from gateway.graphql import errors as wire
from gateway.graphql.bounds.measure import CEILING, Bounds, measure
from gateway.graphql.plan import planned
from gateway.graphql.reads import fields_read
from gateway.graphql.rules import rules_for

if TYPE_CHECKING:
    from collections.abc import Set as AbstractSet

    from graphql import DocumentNode

    from gateway.graphql.schemas import AgencySchema
    from gateway.settings import Limits
    from resolvers.context import RequestContext

__all__ = [
    "Answer",
    "Prepared",
    "RequestCost",
    "prepare_operation",
    "refused",
    "run_operation",
]

log = logging.getLogger("govgate.gateway")


@dataclass(frozen=True, slots=True, kw_only=True)
class Prepared:
    """One operation of a request, parsed, measured and validated but not run: either its
    checked document and estimated cost, or the answer refusing it (`refusal`)."""

    bounds: Bounds | None = None
    #: The operation's text (plans are cached by its hash).
    query: str = ""
    variables: dict[str, Any] | None = None
    operation_name: str | None = None
    refusal: dict[str, Any] | None = None
    cost: int = 0
    #: Verification fields the operation runs (a request's are added up and limited, Art. 24).
    verifications: int = 0


@dataclass(frozen=True, slots=True)
class RequestCost:
    """The estimated cost of a whole request (a batch's operations added up) and its limit."""

    estimated: int
    limit: int
    batch: bool = False

    @classmethod
    def of(cls, prepared: list[Prepared], limits: Limits, *, batch: bool) -> RequestCost:
        """The cost of running every operation of `prepared`."""
        return cls(min(CEILING, sum(p.cost for p in prepared)), limits.max_cost, batch)

    @property
    def over(self) -> bool:
        """Whether the request asks for more than the deployment allows."""
        return self.estimated > self.limit

    def extension(self, prepared: Prepared) -> dict[str, int]:
        """`extensions.cost` of one operation's answer: the request's estimate and its limit;
        in a batch, also this operation's share (the batch's answer is a bare list)."""
        report = {"estimated": self.estimated, "limit": self.limit}
        if self.batch:
            report["operation"] = prepared.cost
        return report


def prepare_operation(
    body: object, *, schema: AgencySchema, agency: str, request_id: str, limits: Limits
) -> Prepared:
    """Check one operation object (`query`, `variables`, `operationName`) without running it.

    Parse (bounded tokens), measure (gateway.graphql.bounds.measure: depth, aliases, verifications,
    expanded size, cost), and only then validate against the agency's schema; a document that
    passes is kept per schema, with its bounds.
    """
    if not isinstance(body, dict):
        return refused("Each operation is a JSON object with a 'query' string.", "BAD_REQUEST")
    query = body.get("query")
    variables = body.get("variables")
    operation_name = body.get("operationName")
    if not isinstance(query, str) or not query.strip():
        return refused(
            "The operation has no 'query' string; send the GraphQL text in it.", "BAD_REQUEST"
        )
    if variables is not None and not isinstance(variables, dict):
        return refused("'variables' must be a JSON object (or left out).", "BAD_REQUEST")
    if operation_name is not None and not isinstance(operation_name, str):
        return refused("'operationName' must be a string (or left out).", "BAD_REQUEST")
    bounds = schema.recall(query)
    if bounds is None:
        checked = _parse_and_validate(query, schema, agency, request_id, limits)
        if isinstance(checked, dict):
            return Prepared(refusal=checked)
        bounds = checked
        schema.remember(query, bounds)
    cost = bounds.cost(schema._schema, limits, operation_name, variables)
    return Prepared(
        bounds=bounds,
        query=query,
        variables=variables,
        operation_name=operation_name,
        cost=cost,
        verifications=bounds.verifications(operation_name),
    )


def refused(message: str, code: str) -> Prepared:
    """An operation refused before it was parsed, with `message` under `code`."""
    return Prepared(refusal={"errors": [wire.error(message, code)]})


@dataclass(frozen=True, slots=True, kw_only=True)
class Answer:
    """One operation's outcome: the response and what it disclosed."""

    #: The GraphQL response as a dict: `data`, `errors`, `extensions` (with `cost`).
    response: dict[str, Any]
    #: The `Type.field`s it read (none when it did not run).
    fields: frozenset[str] = frozenset()
    #: The records it returned, as (type, key), in response order.
    records: tuple[tuple[str, str], ...] = ()
    #: What an auditor should look at (`verify:Person:KEY`, `seal-invalid:...`).
    flags: tuple[str, ...] = ()

    @property
    def released(self) -> bool:
        """Whether it carries data (a refused or failed operation carries none)."""
        return self.response.get("data") is not None


async def run_operation(
    prepared: Prepared, *, schema: AgencySchema, context: RequestContext, cost: RequestCost
) -> Answer:
    """Execute one prepared operation, unless it was refused or the request costs too much."""
    response, read = await _run(prepared, schema=schema, context=context, cost=cost)
    response.setdefault("extensions", {})["cost"] = cost.extension(prepared)
    # frozenset() of a plan's frozenset is that frozenset: its hash is computed once per plan.
    return Answer(response=response, fields=frozenset(read), records=tuple(context.returned),
                  flags=tuple(context.flags))  # fmt: skip


async def _run(
    prepared: Prepared, *, schema: AgencySchema, context: RequestContext, cost: RequestCost
) -> tuple[dict[str, Any], AbstractSet[str]]:
    if prepared.bounds is None:  # refused when it was prepared
        return dict(prepared.refusal or {}), set()
    if cost.over:
        scope = "request (its operations added up)" if cost.batch else "query"
        return {"errors": [wire.error(
            f"The {scope} has an estimated cost of {cost.estimated}; the limit is {cost.limit}. "
            "Each field costs 1 and everything below a list counts once per item (a page's "
            "`first`, or the assumed length of a link list): ask for smaller pages, fewer "
            "aliased copies, fewer links below lists or fewer operations at once, and follow "
            "endCursor for the rest.", "QUERY_TOO_COMPLEX")]}, set()  # fmt: skip
    document = prepared.bounds.document
    # -- plans (gateway/graphql/plan, docs/plans.md): the same answer, compiled once ----------
    answered = await _planned(
        prepared.query, document, operation_name=prepared.operation_name,
        variables=prepared.variables, schema=schema, context=context,
    )  # fmt: skip
    if answered is not None:
        return answered
    # -- otherwise the resolvers, field by field ----------------------------------------------
    outcome = execute(
        schema._schema,
        document,
        context_value=context,
        variable_values=prepared.variables,
        operation_name=prepared.operation_name,
    )
    # Awaitable when any resolver is async; plain when only `me` or introspection ran.
    result = await outcome if isawaitable(outcome) else outcome
    response: dict[str, Any] = {"data": result.data}
    if result.errors:
        response["errors"] = [wire.shape(e, context.request_id) for e in result.errors]
    if result.data is None:  # refused at the start (variables, operation name): nothing read
        return response, set()
    read = fields_read(schema._schema, document, prepared.operation_name, prepared.variables)
    return response, read


async def _planned(
    query: str,
    document: DocumentNode,
    *,
    operation_name: str | None,
    variables: dict[str, Any] | None,
    schema: AgencySchema,
    context: RequestContext,
) -> tuple[dict[str, Any], AbstractSet[str]] | None:
    """The operation answered by its compiled plan, shaped as `execute`'s answer is; None when
    it has no plan (the resolvers answer it)."""
    outcome = await planned(
        query, document, operation_name, variables, schema=schema, context=context
    )
    if outcome is None:
        return None
    response: dict[str, Any] = {"data": outcome.data}
    if outcome.errors:
        response["errors"] = [wire.shape(e, context.request_id) for e in outcome.errors]
    return response, outcome.read  # the plan's own frozenset: run_operation keeps it as it is


def _parse_and_validate(
    query: str, schema: AgencySchema, agency: str, request_id: str, limits: Limits
) -> Bounds | dict[str, Any]:
    """The document with its bounds, or the GraphQL error response refusing it."""
    try:
        document = parse(query, max_tokens=limits.max_tokens)
    except GraphQLSyntaxError as error:
        if "tokens" in error.message:
            return {"errors": [wire.error(
                f"The query has more than {limits.max_tokens} tokens; split it into smaller "
                "queries.", "QUERY_TOO_COMPLEX")]}  # fmt: skip
        shaped: dict[str, Any] = dict(error.formatted)
        shaped["extensions"] = {"code": "GRAPHQL_PARSE_FAILED"}
        return {"errors": [shaped]}
    # Measured before graphql-core's rules walk it: a document past a bound never reaches them.
    bounds = measure(document, schema._schema, limits)
    problems = bounds.refusals(limits)
    if problems:
        return {"errors": [wire.error(p, "QUERY_TOO_COMPLEX") for p in problems]}
    refused = validate(schema._schema, document, rules_for(agency))
    if refused:
        return {"errors": [wire.invalid(p, request_id) for p in refused]}
    return bounds
