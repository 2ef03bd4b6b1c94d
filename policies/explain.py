"""Why an agency may or may not use a field: the decision, the rule, its entry, its article."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING

from policies.derivations import revealers
from policies.duties import check_duty
from policies.grants import field_ref

if TYPE_CHECKING:
    from policies.catalog import Agency, FieldShare
    from policies.grants import Policy

__all__ = ["Explanation", "explain"]


@dataclass(frozen=True, slots=True)
class Explanation:
    """One decision, explained in words an agency developer or policy author can act on."""

    agency: str
    field: str
    method: str
    day: str
    allowed: bool
    rule: str | None
    source: str | None
    entry: str
    article: str
    reason: str
    policy_version: str
    #: For a denied field: the fields the agency may read whose values reveal it, in words.
    revealed_by: tuple[str, ...] = ()
    #: The duty the decision was asked under (Art. 18, 21); None: all the agency's duties.
    duty: str | None = None

    def as_dict(self) -> dict[str, object]:
        """The explanation as plain JSON-ready data."""
        return asdict(self)


def explain(
    policy: Policy,
    agency_code: str,
    ref: str,
    method: str = "query",
    duty: str | None = None,
) -> Explanation:
    """Explain `policy`'s decision on `agency_code` doing `method` on field `ref`, acting under
    `duty` alone when given (its duty view, policies.duties).

    Raises UnknownAgencyError or UnknownFieldError for names that do not exist,
    DutyNotHeldError for a duty the agency does not hold, and ValueError for a method other
    than query or verify.
    """
    if method not in ("query", "verify"):
        raise ValueError(f"The method is query or verify, not {method!r}.")
    agency = policy.catalog.agency(agency_code)
    field_ref(ref)
    day = policy.day.isoformat()
    allowed, rule = policy.enforcer.enforce_ex(agency_code, ref, method, day)
    under = None
    if duty is not None and allowed:
        check_duty(policy.catalog, agency_code, duty)
        # Allowed to the agency: the duty view decides. Denied to it: that denial stands (a
        # duty only ever narrows), and is what the explanation gives.
        allowed, rule = policy.duty_enforcer(agency_code, duty).enforce_ex(
            agency_code, ref, method, day
        )
        under = duty
    elif duty is not None:
        check_duty(policy.catalog, agency_code, duty)
    rule = list(rule) if rule else None
    source = rule[5] if rule else None
    entry, article, reason = _account(
        policy,
        agency=agency if under is None else replace(agency, duties=(under,)),
        ref=ref,
        method=method,
        allowed=bool(allowed),
        source=source,
    )
    if duty is not None:
        reason = f"Under its duty {duty}: {reason}"
    return Explanation(
        agency=agency_code,
        field=ref,
        method=method,
        day=day,
        allowed=bool(allowed),
        rule=", ".join(["p", *rule]) if rule else None,
        source=source,
        entry=entry,
        article=article,
        reason=reason,
        policy_version=policy.version,
        revealed_by=() if allowed else _revealed_by(policy, agency_code, ref),
        duty=duty,
    )


def _revealed_by(policy: Policy, agency_code: str, ref: str) -> tuple[str, ...]:
    """Denied, but carried by a field the agency reads: say which, how, and whether the
    catalogue acknowledges it (docs/catalog.md, "Identifiers carry data")."""
    out = []
    for derivation, reason in revealers(policy, agency_code, ref):
        amount = "all" if derivation.whole else "part"
        said = f"acknowledged in the catalogue: {reason}" if reason else "not acknowledged"
        out.append(
            f"{derivation.field}, which {agency_code} may read, reveals {amount} of it: "
            f"{derivation.how} ({said})"
        )
    return tuple(out)


def _describe(share: FieldShare) -> str:
    methods = " and ".join(share.methods)
    if share.sharing == "none":
        return f"dataset {share.dataset}: {share.field} is not shareable" + (
            " (secret)" if share.secret else ""
        )
    if share.sharing == "unconditional":
        return f"dataset {share.dataset}: {share.field} is shared unconditionally for {methods}"
    duties = ", ".join(share.duties)
    return f"dataset {share.dataset}: {share.field} is shared for {methods} with duties {duties}"


def _account(  # noqa: PLR0911 (one return per kind of decision reads best)
    policy: Policy,
    *,
    agency: Agency,
    ref: str,
    method: str,
    allowed: bool,
    source: str | None,
) -> tuple[str, str, str]:
    """(catalogue entry, article, reason) for a decision."""
    catalog = policy.catalog
    shares = catalog.shares_of(ref)
    who = f"{agency.code} ({agency.name})"
    if source and source.startswith("rules:"):
        # The note travels in the compiled policy's comments, so explain needs no rules file.
        text = policy.compiled.notes().get(source)
        note = f": {text}" if text else ""
        entry = f"author rule {source.removeprefix('rules:')}{note}"
        if allowed:
            return entry, "Art. 19", f"{who} may {method} {ref} by an author rule{note}."
        return entry, "Art. 5, 34", f"{who} is denied {method} on {ref} by an author rule{note}."
    share = next((s for s in shares if s.source_tag == source), None)
    if source and source.startswith("catalog:datasets/") and share is None:
        return (
            f"{source}, which is not in {catalog.path}",
            "-",
            "The compiled policy names a catalogue entry this catalogue lacks: compile it again "
            "from this catalogue.",
        )
    if share is not None:
        entry = _describe(share)
        if share.sharing == "none":
            article = "Art. 16" if share.secret else "Art. 8, 26"
            return entry, article, f"{ref} is never shared with any agency ({entry})."
        if share.sharing == "unconditional":
            return entry, "Art. 4, 8", f"{who} may {method} {ref}: it is shared unconditionally."
        held = sorted(set(share.duties) & set(agency.duties))
        return (
            entry,
            "Art. 4, 18",
            f"{who} may {method} {ref} through its duty {', '.join(held) or '(author group)'}.",
        )
    # No rule matched: default deny. Say what would have granted it.
    granting = [s for s in shares if method in s.methods and s.sharing != "none"]
    if not shares:
        return (
            "no catalogue entry lists this field",
            "Art. 4, 8",
            f"{ref} is in no catalogue entry, so no agency may {method} it (default deny).",
        )
    entry = "; ".join(_describe(s) for s in shares)
    if not granting:
        return entry, "Art. 8", f"{ref} is not shared for {method} with any agency."
    if any(s.sharing == "unconditional" for s in granting):
        kinds = ", ".join(catalog.unconditional_kinds)
        return (
            entry,
            "Art. 2, 4",
            f"{ref} is shared unconditionally only with agencies of kind {kinds}; "
            f"{who} is of kind {agency.kind} and holds no duty it is granted to.",
        )
    wanted = sorted({d for s in granting for d in s.duties})
    return (
        entry,
        "Art. 4, 18",
        f"{ref} is shared for {method} only with duties {', '.join(wanted)}; {who} holds "
        f"{', '.join(agency.duties) or 'no duties'}. Ask the platform administrator "
        f"({catalog.administrator}) about an out-of-catalogue request (Art. 19).",
    )
