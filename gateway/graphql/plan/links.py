"""The links between record types, as data: what `resolvers.records` does in its link resolvers.

A plan follows a link with one statement per link and request (all parent records' keys at
once), where the resolvers batch the same statement through a DataLoader. A link field this
table does not know keeps its operation on the resolver path (the compiler says "not
plannable"), so a link added to `resolvers.records` without a line here is never wrong, only
slower; `tests/gateway/graphql/test_plans.py` checks the two agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["LINKS", "LinkSpec"]


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkSpec:
    """Rows of `source` (type `target`) whose `by` column equals the parent's `parent` column.

    `kind` = (column, value) narrows the linked rows (a person's licences are those with
    holder_kind 'person'); `parent_kind` = (column, value) follows the link only from parents
    of that kind (a licence's holderPerson exists only when its holder_kind is 'person').
    """

    target: str
    source: str
    by: str
    parent: str
    many: bool
    kind: tuple[str, str] | None = None
    parent_kind: tuple[str, str] | None = None


LINKS: Mapping[tuple[str, str], LinkSpec] = MappingProxyType({
    ("Person", "licenses"): LinkSpec(
        target="License", source="licenses", by="holder_id", parent="id_number", many=True,
        kind=("holder_kind", "person"),
    ),
    ("Person", "landRights"): LinkSpec(
        target="LandParcel", source="land", by="right_holder_id", parent="id_number", many=True,
        kind=("right_holder_kind", "person"),
    ),
    ("Person", "representedEntities"): LinkSpec(
        target="LegalEntity", source="entities", by="legal_representative", parent="id_number",
        many=True,
    ),
    ("LegalEntity", "representative"): LinkSpec(
        target="Person", source="persons", by="id_number", parent="legal_representative",
        many=False,
    ),
    ("LegalEntity", "licenses"): LinkSpec(
        target="License", source="licenses", by="holder_id", parent="credit_code", many=True,
        kind=("holder_kind", "entity"),
    ),
    ("LegalEntity", "landRights"): LinkSpec(
        target="LandParcel", source="land", by="right_holder_id", parent="credit_code",
        many=True, kind=("right_holder_kind", "entity"),
    ),
    ("LandParcel", "rightHolderPerson"): LinkSpec(
        target="Person", source="persons", by="id_number", parent="right_holder_id", many=False,
        parent_kind=("right_holder_kind", "person"),
    ),
    ("LandParcel", "rightHolderEntity"): LinkSpec(
        target="LegalEntity", source="entities", by="credit_code", parent="right_holder_id",
        many=False, parent_kind=("right_holder_kind", "entity"),
    ),
    ("License", "holderPerson"): LinkSpec(
        target="Person", source="persons", by="id_number", parent="holder_id", many=False,
        parent_kind=("holder_kind", "person"),
    ),
    ("License", "holderEntity"): LinkSpec(
        target="LegalEntity", source="entities", by="credit_code", parent="holder_id",
        many=False, parent_kind=("holder_kind", "entity"),
    ),
})  # fmt: skip
