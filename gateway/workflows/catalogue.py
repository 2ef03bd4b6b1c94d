"""The served policy as the workflows' `Catalogue` (policies.grants.Policy behind it).

A field is already granted to a duty of an agency when Casbin lets the agency query it (so
denies hold: a suspended grant is not reopened by a request) and either a catalogue entry
shares it with that duty or with every agency of its kind (unconditional sharing, Art. 4), or
an author rule names the agency or the duty (an earlier approval, Art. 19). The entry the
answer points at is the compiled rule's source tag: `catalog:datasets/ID/field` or
`rules:FILE:LINE`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.workflows.types import FieldFacts
from policies.errors import UnknownAgencyError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from policies.catalog import Agency, FieldShare
    from policies.grants import Policy

__all__ = ["PolicyCatalogue"]


class PolicyCatalogue:
    """Answers the workflows' questions from one policy in force (rebuild it on reload)."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy

    @property
    def administrator(self) -> str:
        """The catalogue's platform administrator (Art. 5)."""
        return self.policy.catalog.administrator

    def duties_of(self, agency: str) -> tuple[str, ...] | None:
        """The agency's duties, or None for a code the catalogue lacks."""
        try:
            return self.policy.catalog.agency(agency).duties
        except UnknownAgencyError:
            return None

    def field_facts(self, field: str) -> FieldFacts | None:
        """The field's provider (its first dataset's; Art. 12-14 allow one) and shareability."""
        shares = self.policy.catalog.shares_of(field)
        if not shares:
            return None
        provider = self.policy.catalog.dataset(shares[0].dataset).provider
        shareable = all(s.sharing != "none" and not s.secret for s in shares)
        return FieldFacts(provider=provider, shareable=shareable)

    def granted(self, agency: str, duty: str, fields: Sequence[str]) -> Mapping[str, str]:
        """Of `fields`, those `agency` may already query under `duty`, with their entries."""
        try:
            holder = self.policy.catalog.agency(agency)
        except UnknownAgencyError:
            return {}
        if duty not in holder.duties:
            return {}
        grants = self.policy.grants_for(agency)
        found: dict[str, str] = {}
        for field in fields:
            if not grants.can("query", field):
                continue  # denied, whatever the catalogue says (a deny overrides, Art. 9)
            entry = self._entry(holder, duty, field)
            if entry is not None:
                found[field] = entry
        return found

    def _entry(self, agency: Agency, duty: str, field: str) -> str | None:
        catalog = self.policy.catalog
        kinds = catalog.unconditional_kinds
        for share in catalog.shares_of(field):
            if "query" in share.methods and _shares_with(share, agency, duty, kinds):
                return share.source_tag
        # Not in the catalogue for this duty: an author rule may grant it (an earlier approval).
        day = self.policy.day.isoformat()
        allowed, rule = self.policy.enforcer.enforce_ex(agency.code, field, "query", day)
        if allowed and rule and rule[0] in {agency.code, f"duty:{duty}"}:
            source = str(rule[5])
            return source if source.startswith("rules:") else None
        return None


def _shares_with(
    share: FieldShare, agency: Agency, duty: str, unconditional: Sequence[str]
) -> bool:
    if share.sharing == "unconditional":
        return agency.kind in unconditional
    return share.sharing == "conditional" and duty in share.duties
