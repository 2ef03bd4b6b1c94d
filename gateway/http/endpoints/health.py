"""GET /healthz and /readyz: probes for load balancers (not audited: they read no base data)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gateway.http.endpoints._request import gateway_of
from gateway.http.responses import JsonAnswer

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

__all__ = ["health", "ready"]


async def health(request: Request) -> Response:
    """Alive, and the policy version served (and any files awaiting approval, Art. 9)."""
    gateway = gateway_of(request)
    body: dict[str, Any] = {"status": "ok", "policyVersion": gateway.served.policy.version}
    if gateway.unapproved is not None:  # Art. 9: the files wait for an approval
        waiting = gateway.unapproved
        body["awaitingApproval"] = {"version": waiting.new_version,
                                    "reductions": len(waiting.reductions)}  # fmt: skip
    return JsonAnswer(body)


async def ready(request: Request) -> Response:
    """Each source's and the audit store's health (Art. 20); 503 unless all answer."""
    gateway = gateway_of(request)
    checks = await gateway.readiness()
    ok = all(check["ok"] for check in checks.values())
    body = {"status": "ready" if ok else "degraded", "checks": checks,
            "policyVersion": gateway.served.policy.version,
            # Shown, not counted: a witness outage must not drain every gateway (Art. 28).
            "witnesses": gateway.witnesses.status()}  # fmt: skip
    return JsonAnswer(body, status_code=200 if ok else 503)
