"""Rate limits: sliding windows per agency and per verified subject, shared by every gateway
process (docs/security.md, "Verification is not an oracle").

    windows    what one admission must pass (`Check`), and the store's shape (`WindowStore`)
    database   the windows in the gateway's own database (`DatabaseWindows`)
    counting   verifications per request, all operations of a batch together
    limiter    which windows apply, refusals, and failing closed or open (`RateLimiter`)
"""

from __future__ import annotations

from gateway.ratelimit.counting import too_many_verifications
from gateway.ratelimit.database import DatabaseWindows
from gateway.ratelimit.limiter import RateLimiter, Throttle, retry_after_of
from gateway.ratelimit.windows import Check, Verdict, WindowStore

__all__ = [
    "Check",
    "DatabaseWindows",
    "RateLimiter",
    "Throttle",
    "Verdict",
    "WindowStore",
    "retry_after_of",
    "too_many_verifications",
]
