"""GraphQL errors as the client sees them: the one place they are shaped for the wire.

Errors the client can act on keep their message and get an `extensions.code` from the registry
(gateway.codes): a resolver's (ResolverError.code), an invalid identifier's, graphql-core's
parse and validation failures. Anything unexpected is masked and logged with the request id.
"""

from __future__ import annotations

import logging
from typing import Any

from graphql import GraphQLError

from resolvers.errors import ResolverError
from sources.identifiers import InvalidIdentifierError

__all__ = ["error", "invalid", "shape"]

log = logging.getLogger("govgate.gateway")


def error(message: str, code: str, **extra: Any) -> dict[str, Any]:
    """One error of an answer: the message and its code (and further `extensions`)."""
    return {"message": message, "extensions": {"code": code, **extra}}


def shape(error: GraphQLError, request_id: str) -> dict[str, Any]:
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
        out["extensions"] = {"code": original.code, **original.extensions}
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


def invalid(error: GraphQLError, request_id: str) -> dict[str, Any]:
    """A validation error as the client sees it: about the document, never internal."""
    original = error.original_error
    if original is None or isinstance(original, GraphQLError):
        return shape(error, request_id)
    # A literal its type could not read (an Int of 5,000 digits): Python's own message would
    # name its internals, and it is the document's fault, not the gateway's.
    out: dict[str, Any] = dict(error.formatted)
    out["message"] = (
        "A value in the query cannot be read as the type its argument takes (an integer of "
        "thousands of digits, say); send a value of that type."
    )
    out["extensions"] = {"code": "GRAPHQL_VALIDATION_FAILED"}
    return out
