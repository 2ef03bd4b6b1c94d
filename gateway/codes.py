"""The registry of wire codes: every `extensions.code` the gateway answers with, once.

Each `Code` says the HTTP status it goes out with when it refuses a request as a whole, what the
audit record makes of it (`kind`), and one line of meaning. `Trail.decision`
(gateway.trust.trail) derives the record's decision from `kind`; the error table in
`docs/gateway.md` is checked against this registry (tests/gateway/test_codes.py), and every error
class that names a code (gateway, resolvers, workflows) names one of these.

kind:
  refusal   the gateway declined before anything ran (a limit, a field not shared, a bad body)
  failure   the gateway itself or a source failed, not the request
  answered  an answer that carries an error the client can act on (the operation ran)
  warning   a warning beside released data (`extensions.warnings`), not an error

Modules below `gateway` (resolvers, policies, sources) must not import `gateway`, so their error
classes spell their codes as strings; the test above checks those strings against this registry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["CODES", "Code", "Kind", "code", "codes_of_kind"]

Kind = Literal["refusal", "failure", "answered", "warning"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Code:
    """One wire code: `name` in `extensions.code`, its HTTP `status`, `kind`, `meaning`.

    `status` is the one a refusal of the whole request answers with (an error inside a GraphQL
    answer goes out with the answer's, usually 200); None when there is no one to answer.
    """

    name: str
    status: int | None
    kind: Kind
    meaning: str
    #: The page whose error table documents it (the gateway's, or the workflows').
    page: str = "docs/gateway.md"


def _codes(*items: Code) -> dict[str, Code]:
    registry: dict[str, Code] = {}
    for item in items:
        if item.name in registry:  # each code once: a second definition is a mistake
            raise ValueError(f"wire code {item.name} is registered twice")
        registry[item.name] = item
    return registry


_WORKFLOWS = "docs/workflows.md"

#: Every wire code, by name.
CODES: dict[str, Code] = _codes(
    # -- identity and the request itself ---------------------------------------------------
    Code(name="UNAUTHENTICATED", status=401, kind="refusal",
         meaning="no token, or a refused one (503 when the signing keys cannot be loaded)"),
    Code(name="BAD_REQUEST", status=400, kind="refusal",
         meaning="the body is not JSON or not an operation"),
    Code(name="NOT_FOUND", status=404, kind="refusal", meaning="nothing is served at the path"),
    Code(name="METHOD_NOT_ALLOWED", status=405, kind="refusal",
         meaning="a method the path does not answer"),
    Code(name="REQUEST_TIMEOUT", status=408, kind="refusal",
         meaning="the body did not arrive in time"),
    Code(name="CLIENT_DISCONNECTED", status=None, kind="refusal",
         meaning="the client left before its body was complete (audit record only)"),
    Code(name="OVERLOADED", status=503, kind="refusal",
         meaning="too many requests in progress already"),
    # -- what an agency may ask (Art. 18, 21, 29, 34) ----------------------------------------
    Code(name="FORBIDDEN_FIELD", status=200, kind="refusal",
         meaning="a field, argument or type outside the agency's schema"),
    Code(name="QUERY_TOO_COMPLEX", status=200, kind="refusal",
         meaning="past a limit on the document, batch, body or response"),
    Code(name="GRAPHQL_PARSE_FAILED", status=200, kind="refusal", meaning="not GraphQL"),
    Code(name="GRAPHQL_VALIDATION_FAILED", status=200, kind="refusal",
         meaning="invalid GraphQL of another kind"),
    Code(name="URI_TOO_LONG", status=414, kind="refusal",
         meaning="a GET whose query string is past the limit"),
    # -- trusted documents (persisted queries; docs/gateway.md) -------------------------------
    Code(name="PERSISTED_QUERY_NOT_FOUND", status=200, kind="refusal",
         meaning="no document with that hash is registered for the agency: send the text"),
    Code(name="PERSISTED_QUERY_NOT_SUPPORTED", status=200, kind="refusal",
         meaning="a persisted query version other than 1"),
    Code(name="DOCUMENT_NOT_APPROVED", status=200, kind="refusal",
         meaning="the agency runs approved documents only, and this one is not (any more)"),
    Code(name="RATE_LIMITED", status=429, kind="refusal", meaning="past a sliding window"),
    Code(name="DUTY_REQUIRED", status=403, kind="refusal",
         meaning="the catalogue requires a duty and the request names none"),
    Code(name="DUTY_NOT_HELD", status=403, kind="refusal",
         meaning="the duty named is not one the agency holds"),
    Code(name="OFFICER_REQUIRED", status=403, kind="refusal",
         meaning="the deployment requires the acting officer and the token names none"),
    # -- policy reload (Art. 5, 9, 19) -------------------------------------------------------
    Code(name="FORBIDDEN", status=403, kind="refusal",
         meaning="a policy reload by a non-administrator"),
    Code(name="POLICY_INVALID", status=422, kind="refusal",
         meaning="a reload refused for a broken catalogue"),
    Code(name="APPROVAL_REQUIRED", status=409, kind="refusal",
         meaning="a reload removing shared information without an approval"),
    # -- answered, with an error the client can act on -------------------------------------
    Code(name="INVALID_IDENTIFIER", status=200, kind="answered",
         meaning="an identifier fails its format or check character"),
    Code(name="BAD_USER_INPUT", status=200, kind="answered",
         meaning="an argument or a body's text that cannot be used"),
    # -- failures: the gateway or a source, not the request ----------------------------------
    Code(name="INTERNAL_SERVER_ERROR", status=500, kind="failure",
         meaning="anything unexpected, masked, logged with the request id"),
    Code(name="SOURCE_UNAVAILABLE", status=200, kind="failure",
         meaning="a base database is down or too slow; its fields are null (Art. 20)"),
    Code(name="AUDIT_UNAVAILABLE", status=503, kind="failure",
         meaning="the audit store cannot record the request, so it is not answered (Art. 28)"),
    Code(name="RATE_LIMIT_UNAVAILABLE", status=503, kind="failure",
         meaning="the rate windows cannot be counted; verifications fail closed"),
    # -- warnings beside released data -------------------------------------------------------
    Code(name="STALE_DATA", status=200, kind="warning", page="docs/trust.md",
         meaning="a dataset drawn on is older than its update frequency allows (Art. 17)"),
    # -- workflows (gateway.workflows.errors; documented in docs/workflows.md): a step declined
    # is refused before anything is recorded ------------------------------------------------
    Code(name="WORKFLOW_FAILED", status=200, kind="failure", page=_WORKFLOWS,
         meaning="a workflow error of no narrower kind"),
    Code(name="CALENDAR_INVALID", status=200, kind="failure", page=_WORKFLOWS,
         meaning="the working-day file cannot be used"),
    Code(name="INVALID_WORKFLOW_INPUT", status=200, kind="refusal", page=_WORKFLOWS,
         meaning="something a client sent to a workflow is malformed or unknown"),
    Code(name="NOT_SHAREABLE", status=200, kind="refusal", page=_WORKFLOWS,
         meaning="a requested field no grant can open (Art. 16)"),
    Code(name="STEP_NOT_ALLOWED", status=200, kind="refusal", page=_WORKFLOWS,
         meaning="a party taking another party's step"),
    Code(name="WRONG_STATE", status=200, kind="refusal", page=_WORKFLOWS,
         meaning="the case is not in a state that allows the step"),
    Code(name="CASE_CHANGED", status=200, kind="refusal", page=_WORKFLOWS,
         meaning="the case changed meanwhile"),
    Code(name="SOURCE_UNCHANGED", status=200, kind="refusal", page=_WORKFLOWS,
         meaning="a correction whose source record did not change"),
    Code(name="GRANT_NOT_PUBLISHED", status=200, kind="refusal", page=_WORKFLOWS,
         meaning="an approval that cannot become a grant (no writable rules file, or "
         "unpublished removals)"),
    Code(name="WORKFLOW_STORE_FAILED", status=200, kind="failure", page=_WORKFLOWS,
         meaning="the gateway's database failed during a workflow step"),
)  # fmt: skip


def code(name: str) -> Code:
    """The registered code `name`; KeyError for a code nobody registered (a typo)."""
    return CODES[name]


def codes_of_kind(kind: Kind) -> frozenset[str]:
    """The names of every code of `kind`."""
    return frozenset(name for name, item in CODES.items() if item.kind == kind)
