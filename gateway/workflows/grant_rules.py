"""An approved access request as author rules (Art. 19: the government decided to share).

An approval becomes one author rule per field (policies/rules.py, docs/policies.md):

    p, TH-CA, Person.phone, query, allow, 2026-12-31, approval GZ-GOV-2026-88 access request
      AR-1F2E3D4C5B6A duty civil-affairs                     (one line; wrapped here)

The subject is the requesting agency, not `duty:<id>`: a duty rule would open the field to
every agency holding that duty, which nobody asked for. The note names the approval, the case
and the duty it was asked for. `with_grant_rules` returns the rules text with the lines added
under a comment; the wiring publishes it (a reload, Art. 19: additions take effect at once).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import date

__all__ = ["grant_rules", "with_grant_rules"]


def grant_rules(
    *,
    agency: str,
    duty: str,
    fields: Sequence[str],
    case_id: str,
    reference: str,
    until: date | None,
) -> tuple[str, ...]:
    """The author-rule lines that grant `fields` to `agency` for query, until `until`."""
    last = until.isoformat() if until is not None else "*"
    note = f"approval {reference} access request {case_id} duty {duty}"
    return tuple(f"p, {agency}, {field}, query, allow, {last}, {note}" for field in fields)


def with_grant_rules(rules: str | None, lines: Sequence[str], *, case_id: str, at: str) -> str:
    """The author rules `rules` (None: no file yet) with `lines` appended under a comment.

    Lines already in `rules` are not added again, so publishing twice changes nothing.
    """
    text = rules or ""
    present = {line.strip() for line in text.split("\n")}
    lines = [line for line in lines if line.strip() not in present]
    if not lines:
        return text
    if text and not text.endswith("\n"):
        text += "\n"
    comment = (
        f"# Access request {case_id}: out-of-catalogue access the government approved "
        f"(Art. 19), recorded by govgate at {at}."
    )
    return text + ("\n" if text else "") + comment + "\n" + "".join(f"{line}\n" for line in lines)
