"""How many verifications a request asks for, all its operations together (a batch too).

Each operation's verification fields are counted by the document walk that measures it
(`gateway.graphql.bounds.measure`: fragments expanded, repeats of one response key merged); the
request adds them up. The count is per request: per operation, a batch of 10 multiplied the
limit by 10.
"""

from __future__ import annotations

from gateway.ratelimit.limiter import Throttle

__all__ = ["too_many_verifications"]


def too_many_verifications(count: int, limit: int) -> Throttle:
    """The refusal of a request verifying `count` claims, more than `limit` (QUERY_TOO_COMPLEX,
    like every other bound on one request)."""
    message = (
        f"The request verifies {count} claims; the limit is {limit} per request, all operations "
        "of a batch together. Verification checks a claim a citizen made (Art. 24); it is not "
        "a way to read records in bulk."
    )
    return Throttle("QUERY_TOO_COMPLEX", 200, message)
