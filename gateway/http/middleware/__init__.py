"""ASGI middleware of the gateway's HTTP app, one a module.

audited  AuditedRequests: one audit record per request, released after it commits; body
         deadline, requests-in-progress limit, JSON 404/405 with the request id
"""

from gateway.http.middleware.audited import (
    AuditedRequests,
    Recorder,
    http_error,
    trail_of,
    wants_page,
)

__all__ = ["AuditedRequests", "Recorder", "http_error", "trail_of", "wants_page"]
