"""ASGI middleware of the gateway's HTTP app, one a module, outermost first.

request_id     RequestIds: every request's id, on its answer and in its log lines
audited        AuditedRequests: one audit record per request, the answer released after it
               commits; the requests-in-progress limit; JSON 404/405 (http_error)
traced         Traced: the `request` span (only when `[tracing] enabled`)
body_deadline  BodyDeadline: the body arrives in time or is refused (slowloris)
"""

from gateway.http.middleware.audited import (
    AuditedRequests,
    Recorder,
    http_error,
    page_link,
    trail_in,
    trail_of,
    wants_page,
)
from gateway.http.middleware.body_deadline import BodyDeadline
from gateway.http.middleware.request_id import RequestIds
from gateway.http.middleware.traced import Traced

__all__ = [
    "AuditedRequests",
    "BodyDeadline",
    "Recorder",
    "RequestIds",
    "Traced",
    "http_error",
    "page_link",
    "trail_in",
    "trail_of",
    "wants_page",
]
