"""The evidence an agency can ask about: its vouchers (Art. 23) and datasets' freshness (Art. 17).

Both are open to every agency, within bounds: a voucher is shown only to the agency it was
issued to (any other id is simply not found), and freshness lists only the datasets the agency
may read or verify something of.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import strawberry
from strawberry.scalars import JSON  # noqa: TC002 (strawberry reads annotations at run time)

from policies.freshness import Freshness, datasets_seen_by, freshness_of
from resolvers.context import RequestContext
from resolvers.declarations import declared
from resolvers.errors import ResolverError

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["DatasetFreshness", "Voucher", "dataset_freshness", "find_voucher"]

Info = strawberry.Info[RequestContext, None]


class EvidenceUnavailableError(ResolverError):
    """The gateway keeps no evidence here (resolvers run without a gateway)."""

    code = "INTERNAL_SERVER_ERROR"


@strawberry.type(
    description="A signed voucher: proof of exactly what data was returned to which agency, "
    "when (Art. 23). Verify it offline with `govgate voucher verify`."
)
class Voucher:
    id: str
    issued_at: str
    agency: str
    request_id: str
    datasets: list[str]
    data_sha256: str = strawberry.field(description="SHA-256 of the data's RFC 8785 form, hex.")
    key_id: str
    signature: str = strawberry.field(description="Ed25519 signature by the gateway, base64.")
    signature_valid: bool = strawberry.field(
        description="The signature checks out with the gateway's public key named by keyId."
    )

    @strawberry.field(
        description="True when `data` (the response's `data` member as received) is exactly "
        "what this voucher covers.",
        metadata=declared(free=("data",)),  # the caller's own data, checked: it reveals nothing
    )
    def confirms(self, info: Info, data: JSON) -> bool:
        evidence = info.context.evidence
        if evidence is None:
            raise EvidenceUnavailableError("No voucher store is configured.")
        return evidence.data_sha256(data) == self.data_sha256


@strawberry.type(description="How fresh a dataset is against its catalogue frequency (Art. 17).")
class DatasetFreshness:
    dataset: str
    name: str
    provider: str
    frequency: str
    last_updated: str | None = strawberry.field(
        description="When the newest record the agency may see changed: UTC to the second for "
        "an agency that may read the records' updatedAt, else the day."
    )
    age_hours: float | None = strawberry.field(
        description="Hours since then; null unless the agency may read updatedAt."
    )
    max_age_hours: float = strawberry.field(description="The most the frequency allows.")
    within_frequency: bool


async def find_voucher(info: Info, voucher_id: str) -> Voucher | None:
    """The caller's own voucher `voucher_id` (the administrator may see any), else None."""
    ctx = info.context
    if ctx.evidence is None:
        raise EvidenceUnavailableError("No voucher store is configured.")
    found = await ctx.evidence.voucher(voucher_id)
    if found is None:
        return None
    if found["agency"] != ctx.grants.agency.code and not ctx.grants.administrator:
        return None  # another agency's voucher is indistinguishable from none
    return _voucher(found)


def _voucher(found: Mapping[str, Any]) -> Voucher:
    return Voucher(
        id=found["id"],
        issued_at=found["issuedAt"],
        agency=found["agency"],
        request_id=found["requestId"],
        datasets=list(found["datasets"]),
        data_sha256=found["dataSha256"],
        key_id=found["keyId"],
        signature=found["signature"],
        signature_valid=bool(found["signatureValid"]),
    )


async def dataset_freshness(info: Info) -> list[DatasetFreshness]:
    """Each dataset the caller may read or verify something of, with its age."""
    ctx = info.context
    if ctx.evidence is None:
        raise EvidenceUnavailableError("No freshness monitor is configured.")
    grants = ctx.grants
    newest = await ctx.evidence.newest(grants)
    seen = datasets_seen_by(ctx.catalog, grants)
    return [_shown(state) for state in freshness_of(seen, newest, ctx.now, grants=grants)]


def _shown(state: Freshness) -> DatasetFreshness:
    """A dataset's freshness as an agency sees it: to the second only if it may read the
    records' `updatedAt`, else to the day (the hour a record changed is that field's content);
    `policies.freshness` works out the age and staleness from what the agency may know."""
    return DatasetFreshness(
        dataset=state.dataset.id,
        name=state.dataset.name,
        provider=state.dataset.provider,
        frequency=state.dataset.frequency.text,
        last_updated=state.shown,
        age_hours=(
            round(state.age_seconds / 3600, 2)
            if state.exact and state.age_seconds is not None
            else None
        ),
        max_age_hours=state.dataset.frequency.max_age.total_seconds() / 3600,
        within_frequency=state.fresh,
    )
