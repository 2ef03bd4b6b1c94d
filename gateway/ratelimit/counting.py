"""How many verifications a request asks for, all its operations together (a batch too).

Each verification field written once runs at most once (repeats of one response key merge),
so counting what is written bounds what runs; a document's unselected operations count too.
The count is per request: per operation, a batch of 10 multiplied the limit by 10.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from graphql import FieldNode, GraphQLError, parse

from gateway.ratelimit.limiter import Throttle

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["too_many_verifications", "verifications_in"]

#: Verification fields are named `verify...` (`verifyPerson`); a query without the word has none.
_PREFIX = "verify"


def verifications_in(operations: Sequence[object], *, max_tokens: int) -> int:
    """The verification fields written in every operation of a request, summed."""
    total = 0
    for operation in operations:
        query = operation.get("query") if isinstance(operation, dict) else None
        if isinstance(query, str) and _PREFIX in query:
            total += _written(query, max_tokens)
    return total


def too_many_verifications(count: int, limit: int) -> Throttle:
    """The refusal of a request verifying `count` claims, more than `limit` (QUERY_TOO_COMPLEX,
    like every other bound on one request)."""
    message = (
        f"The request verifies {count} claims; the limit is {limit} per request, all operations "
        "of a batch together. Verification checks a claim a citizen made (Art. 24); it is not "
        "a way to read records in bulk."
    )
    return Throttle("QUERY_TOO_COMPLEX", 200, message)


@functools.lru_cache(maxsize=1024)
def _written(query: str, max_tokens: int) -> int:
    try:
        document = parse(query, max_tokens=max_tokens, no_location=True)
    except (GraphQLError, RecursionError):  # running it reports why, and nothing runs
        return 0
    count = 0
    stack: list[Any] = list(document.definitions)
    while stack:
        node = stack.pop()
        if isinstance(node, FieldNode) and node.name.value.startswith(_PREFIX):
            count += 1
        selection_set = getattr(node, "selection_set", None)
        if selection_set is not None:
            stack.extend(selection_set.selections)
    return count
