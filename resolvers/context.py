"""What every resolver of one request can reach: the caller's grants, the sources, the limits."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from collections.abc import Mapping

    from sqlalchemy.ext.asyncio import AsyncEngine

    from policies.catalog import Catalog
    from policies.grants import Grants

__all__ = ["Evidence", "RequestContext"]


class Evidence(Protocol):
    """What the gateway keeps as evidence, as resolvers may read it (vouchers, freshness)."""

    async def voucher(self, voucher_id: str) -> Mapping[str, Any] | None:
        """The stored voucher as its JSON object plus `signatureValid`, or None."""

    def data_sha256(self, data: object) -> str:
        """The SHA-256 of `data`'s canonical JSON form (RFC 8785), hex."""

    async def newest(self, grants: Grants) -> Mapping[str, datetime | None]:
        """Source name -> when its newest record within the grants' row scope was updated."""


@dataclass(kw_only=True)
class RequestContext:
    """Per request: built by the gateway, read by resolvers (which never decide permissions)."""

    grants: Grants
    catalog: Catalog
    policy_version: str
    engines: Mapping[str, AsyncEngine]
    max_page_size: int
    request_id: str
    #: The acting officer the token named (`act.sub`, Art. 29, 34), if any.
    officer: str | None = None
    #: The gateway's clock when the request arrived.
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    #: Seconds each source may take for one statement (resolvers.fetch.DEFAULT_TIMEOUT if absent).
    timeouts: Mapping[str, float] = field(default_factory=dict)
    #: Vouchers and freshness; None where no gateway stands behind the resolvers.
    evidence: Evidence | None = None
    #: DataLoaders of this request, by what they load (see resolvers.loaders).
    loaders: dict[tuple[Any, ...], Any] = field(default_factory=dict)
    #: Every record put into the response, as (entity, key), for the audit log (Art. 34).
    returned: list[tuple[str, str]] = field(default_factory=list)
    #: What the audit log must flag about this request, e.g. `seal-invalid:License:KEY`.
    flags: list[str] = field(default_factory=list)

    def saw(self, entity: str, key: object) -> None:
        """Note that the record `key` of `entity` goes into the response."""
        self.returned.append((entity, str(key)))
