"""Run one GraphQL operation for one agency, and shape its errors for the client.

Order matters: parse (bounded tokens), validate against the agency's own schema (forbidden
names, depth, aliases), and only then execute. Errors the client can act on keep their message
and get an `extensions.code`; anything unexpected is masked and logged with the request id.
"""

from __future__ import annotations

import logging
from inspect import isawaitable
from typing import TYPE_CHECKING, Any

from graphql import GraphQLError, GraphQLSyntaxError, execute, parse, validate

from gateway.audit import fields_read
from gateway.graphql.plan import planned
from gateway.validation import rules_for
from resolvers.errors import ResolverError
from sources.identifiers import InvalidIdentifierError

if TYPE_CHECKING:
    from graphql import DocumentNode

    from gateway.schemas import AgencySchema
    from gateway.settings import Limits
    from resolvers.context import RequestContext

__all__ = ["OperationError", "run_operation"]

log = logging.getLogger("govgate.gateway")


class OperationError(Exception):
    """A request body that is not a GraphQL operation; `code` goes to the client."""

    def __init__(self, message: str, code: str = "BAD_REQUEST") -> None:
        super().__init__(message)
        self.code = code


def _error(message: str, code: str, **extra: Any) -> dict[str, Any]:
    return {"message": message, "extensions": {"code": code, **extra}}


def _shape(error: GraphQLError, request_id: str) -> dict[str, Any]:
    """A GraphQL error as the client sees it."""
    original = error.original_error
    out: dict[str, Any] = dict(error.formatted)
    if original is None:
        out.setdefault("extensions", {}).setdefault("code", "GRAPHQL_VALIDATION_FAILED")
        return out
    if isinstance(original, GraphQLError):  # e.g. a variable of the wrong type
        out["message"] = original.message
        out["extensions"] = {"code": "BAD_USER_INPUT"}
    elif isinstance(original, InvalidIdentifierError):
        out["message"] = str(original)
        out["extensions"] = {"code": "INVALID_IDENTIFIER", "check": original.check}
    elif isinstance(original, ResolverError):
        out["message"] = str(original)
        out["extensions"] = {"code": original.code}
    else:
        log.error(
            "unexpected error in request %s at %s",
            request_id,
            error.path,
            exc_info=(type(original), original, original.__traceback__),
        )
        out["message"] = (
            f"Internal error; it was logged with request id {request_id}. Try again, and give "
            "that id to the platform administrator if it persists."
        )
        out["extensions"] = {"code": "INTERNAL_SERVER_ERROR"}
    out["extensions"]["requestId"] = request_id
    return out


async def run_operation(
    body: object, *, schema: AgencySchema, context: RequestContext, limits: Limits
) -> tuple[dict[str, Any], set[str]]:
    """Execute one operation object (`query`, `variables`, `operationName`): the GraphQL
    response as a dict, and the `Type.field`s it read (none when it did not run).

    Raises OperationError for a body that is not an operation."""
    if not isinstance(body, dict):
        raise OperationError("Each operation is a JSON object with a 'query' string.")
    query = body.get("query")
    variables = body.get("variables")
    operation_name = body.get("operationName")
    if not isinstance(query, str) or not query.strip():
        raise OperationError("The operation has no 'query' string; send the GraphQL text in it.")
    if variables is not None and not isinstance(variables, dict):
        raise OperationError("'variables' must be a JSON object (or left out).")
    if operation_name is not None and not isinstance(operation_name, str):
        raise OperationError("'operationName' must be a string (or left out).")
    document = schema.recall(query)
    if document is None:
        checked = _parse_and_validate(query, schema, context, limits)
        if isinstance(checked, dict):
            return checked, set()
        document = checked
        schema.remember(query, document)
    # -- plans (gateway/graphql/plan, docs/plans.md): the same answer, compiled once ----------
    answered = await _planned(
        query, document, operation_name=operation_name, variables=variables, schema=schema,
        context=context,
    )  # fmt: skip
    if answered is not None:
        return answered
    # -- otherwise the resolvers, field by field ----------------------------------------------
    outcome = execute(
        schema._schema,
        document,
        context_value=context,
        variable_values=variables,
        operation_name=operation_name,
    )
    # Awaitable when any resolver is async; plain when only `me` or introspection ran.
    result = await outcome if isawaitable(outcome) else outcome
    response: dict[str, Any] = {"data": result.data}
    if result.errors:
        response["errors"] = [_shape(e, context.request_id) for e in result.errors]
    if result.data is None:  # refused at the start (variables, operation name): nothing read
        return response, set()
    return response, fields_read(schema._schema, document, operation_name, variables)


async def _planned(
    query: str,
    document: DocumentNode,
    *,
    operation_name: str | None,
    variables: dict[str, Any] | None,
    schema: AgencySchema,
    context: RequestContext,
) -> tuple[dict[str, Any], set[str]] | None:
    """The operation answered by its compiled plan, shaped as `execute`'s answer is; None when
    it has no plan (the resolvers answer it)."""
    outcome = await planned(
        query, document, operation_name, variables, schema=schema, context=context
    )
    if outcome is None:
        return None
    response: dict[str, Any] = {"data": outcome.data}
    if outcome.errors:
        response["errors"] = [_shape(e, context.request_id) for e in outcome.errors]
    return response, set(outcome.read)


def _parse_and_validate(
    query: str, schema: AgencySchema, context: RequestContext, limits: Limits
) -> DocumentNode | dict[str, Any]:
    """The document, or the GraphQL error response refusing it."""
    try:
        document = parse(query, max_tokens=limits.max_tokens)
    except GraphQLSyntaxError as error:
        if "tokens" in error.message:
            return {"errors": [_error(
                f"The query has more than {limits.max_tokens} tokens; split it into smaller "
                "queries.", "QUERY_TOO_COMPLEX")]}  # fmt: skip
        shaped: dict[str, Any] = dict(error.formatted)
        shaped["extensions"] = {"code": "GRAPHQL_PARSE_FAILED"}
        return {"errors": [shaped]}
    rules = rules_for(
        context.grants.agency.code,
        max_depth=limits.max_depth,
        max_aliases=limits.max_aliases,
        max_verifications=limits.max_verifications,
    )
    problems = validate(schema._schema, document, rules)
    if problems:
        return {"errors": [_shape(p, context.request_id) for p in problems]}
    return document
