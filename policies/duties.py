"""Duty binding (Art. 18, 21, 34(4)): what an agency may use when a request names its duty.

Agencies hold duties and grants go to duties (Art. 4). A request may name the one duty it serves
(the gateway's `Govgate-Duty` header); it is then answered only within what that duty grants
the agency: its *duty view*. The catalogue can require every request to name one
(`require_duty`, at the top or per agency).

How a duty view is decided, so that Casbin stays the authority:

- Its policy is the compiled policy minus the agency's links to its *other* duties (the lines
  `g, AGENCY, duty:OTHER`); every other line stays. So unconditional sharing, the agency's level
  and row scope, and every author rule that names the agency or the duty (allow or deny) apply
  as they do without a duty. `duty_view` makes that policy; anyone can load it into any Casbin.
- `policies.grants.Policy` asks an enforcer built from it, once per policy load, about every
  field the agency may use without a duty; never per request.
- Naming a duty only ever narrows: a field is in the view when the agency may use it at all
  *and* the view allows it (so a deny on another of the agency's duties still holds), and the
  row scope is the narrower of the two.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from policies.compiler import CompiledPolicy
from policies.errors import DutyNotHeldError, DutyRequiredError

if TYPE_CHECKING:
    from policies.catalog import Catalog

__all__ = ["DUTY_ID", "check_duty", "duty_view"]

#: What a duty id looks like (the catalogue schema's `dutyId`), bounded for messages.
DUTY_ID = re.compile(r"[a-z][a-z0-9-]{0,63}")


def duty_view(compiled: CompiledPolicy, agency: str, duty: str) -> CompiledPolicy:
    """The compiled policy as if `agency` held `duty` alone: its other duty links removed.

    The model is unchanged; so is every rule and every other agency's link. Equal to
    `compiled` when the agency holds no other duty.
    """
    kept = []
    for line in compiled.policy.split("\n"):
        columns = [column.strip() for column in line.split(",")]
        if (
            len(columns) == 3  # g, agency, group
            and columns[0] == "g"
            and columns[1] == agency
            and columns[2].startswith("duty:")
            and columns[2] != f"duty:{duty}"
        ):
            continue
        kept.append(line)
    return CompiledPolicy(model=compiled.model, policy="\n".join(kept))


def check_duty(catalog: Catalog, agency_code: str, duty: str | None) -> str | None:
    """The duty a request of `agency_code` is bound to: `duty`, or None for all its duties.

    Raises DutyRequiredError when the catalogue requires a duty and none is named, and
    DutyNotHeldError when `duty` is not one of the agency's duties (Art. 18, 34(4)).
    """
    agency = catalog.agency(agency_code)
    held = tuple((d, _name(catalog, d)) for d in agency.duties)
    listed = ", ".join(f"{d} ({name})" for d, name in held)
    if duty is None:
        if not catalog.duty_required(agency_code):
            return None
        raise DutyRequiredError(
            f"{agency.code} must name the duty this request serves (Art. 18, 21: shared data "
            "is obtained and used according to duties): send the header 'Govgate-Duty: <duty "
            f"id>' with one of its duties: {listed}.",
            agency=agency.code,
            asked=None,
            held=held,
        )
    if duty in agency.duties:
        return duty
    if not held:
        hint = f"{agency.code} holds no duty, so it can name none; send no Govgate-Duty header."
    else:
        hint = f"its duties are {listed}; name one of them."
    if any(d.id == duty for d in catalog.duties):
        why = f"{agency.code} does not hold the duty {duty!r}, so it cannot read under it "
    elif DUTY_ID.fullmatch(duty):
        why = f"{duty!r} is not a duty in the sharing catalogue "
    else:
        why = "the duty named is not a duty id (duty ids look like civil-affairs) "
    raise DutyNotHeldError(
        f"{why[0].upper()}{why[1:]}(Art. 18, 34(4)); {hint}",
        agency=agency.code,
        asked=duty,
        held=held,
    )


def _name(catalog: Catalog, duty_id: str) -> str:
    try:
        return catalog.duty(duty_id).name
    except KeyError:  # the catalogue checks make this impossible; say the id rather than fail
        return duty_id
