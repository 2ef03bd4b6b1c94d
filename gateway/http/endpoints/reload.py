"""POST /admin/policy/reload: the platform administrator puts new catalogue files into force.

Files with problems are refused with every problem listed and the old policy stays (Art. 19);
files that remove shared information need the government's approval reference (Art. 9), sent as
`{"approval": "REF"}`; the publication reaches every gateway process (gateway.policy.sync).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError

from gateway.errors import WireError
from gateway.http.endpoints._request import answering, gateway_of, identify, read_json
from gateway.http.responses import JsonAnswer
from gateway.policy.history import ApprovalRequiredError, approval_reference
from policies.errors import PolicyError

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from gateway.trust.trail import Trail

__all__ = ["reload_policy"]

log = logging.getLogger("govgate.gateway")


@answering
async def reload_policy(request: Request, trail: Trail) -> Response:
    """Reload the policy: the versions before and after, what was removed and added."""
    gateway = gateway_of(request)
    identity = await identify(request, trail)
    trail.policy_version = gateway.served.policy.version
    if not gateway.served.policy.grants_for(identity.agency).administrator:
        raise WireError(
            "Only the platform administrator "
            f"({gateway.served.policy.catalog.administrator}) may reload the policy (Art. 5).",
            code="FORBIDDEN",
        )
    approval = await _read_approval(request)
    try:
        old, new, diff = await gateway.reload(approval=approval, by=identity)
    except (ApprovalRequiredError, PolicyError, OSError, SQLAlchemyError) as error:
        raise _refused(error, gateway.served.policy.version) from None
    trail.flags.append(f"policy-reloaded:{old}->{new}")
    if approval is not None and old != new:
        trail.flags.append(f"policy-approval:{approval}")
    trail.policy_version = new
    return JsonAnswer(
        {"previousVersion": old, "policyVersion": new, "changed": old != new,
         "approval": approval, "removed": [c.as_dict() for c in diff.reductions],
         "added": [c.as_dict() for c in diff.additions]},
        headers={"X-Request-Id": trail.request_id},
    )  # fmt: skip


def _refused(error: Exception, version: str) -> WireError:
    """The refusal of a reload that left the old policy (`version`) in force."""
    if isinstance(error, OSError | SQLAlchemyError):  # the policy store: nothing swapped
        log.error("policy reload could not publish: %s", error)
        return WireError(
            "The policy store cannot be written, so the new policy was not published; the old "
            "one stays in force. Try again shortly.", code="AUDIT_UNAVAILABLE",
        )  # fmt: skip
    members: dict[str, object] = {}
    if isinstance(error, ApprovalRequiredError):  # Art. 9: each reduction, listed
        code = "APPROVAL_REQUIRED"
        members["removed"] = [change.as_dict() for change in error.diff.reductions]
    else:
        code = "POLICY_INVALID"
        members["problems"] = [str(p) for p in getattr(error, "problems", [])]
    members["policyVersion"] = version
    return WireError(str(error), code=code, members=members)


async def _read_approval(request: Request) -> str | None:
    """The approval reference of a reload, from its optional JSON body (Art. 9)."""
    if request.headers.get("content-length", "0") == "0" and \
            "transfer-encoding" not in request.headers:  # fmt: skip
        return None
    payload = await read_json(request)
    if not isinstance(payload, dict) or set(payload) - {"approval"}:
        raise WireError("The reload body is a JSON object with at most \"approval\": \"REF\", "
                        "the government's approval reference (Art. 9).")  # fmt: skip
    if payload.get("approval") is None:
        return None
    try:
        return approval_reference(payload["approval"])
    except ValueError as error:
        raise WireError(str(error)) from None
