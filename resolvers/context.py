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

__all__ = ["Evidence", "LimitRefusal", "RequestContext", "VerificationLimits"]


class Evidence(Protocol):
    """What the gateway keeps as evidence, as resolvers may read it (vouchers, freshness)."""

    async def voucher(self, voucher_id: str) -> Mapping[str, Any] | None:
        """The stored voucher as its JSON object plus `signatureValid`, or None."""

    def data_sha256(self, data: object) -> str:
        """The SHA-256 of `data`'s canonical JSON form (RFC 8785), hex; InvalidArgumentError
        for what that form cannot carry (NaN, 1e400, integers past 2**53, lone surrogates)."""

    async def newest(self, grants: Grants) -> Mapping[str, datetime | None]:
        """Source name -> when its newest record within the grants' row scope was updated."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LimitRefusal:
    """Why one more verification may not run now: `code` (RATE_LIMITED, or
    RATE_LIMIT_UNAVAILABLE when the limits cannot be counted), a message for the agency, the
    seconds to wait, and the flags its audit record gets."""

    code: str
    message: str
    retry_after: int
    flags: tuple[str, ...] = ()


class VerificationLimits(Protocol):
    """Limits on verifying one subject (Art. 24, 34(4)), shared by every gateway process."""

    async def admit_verification(
        self, agency: str, subject: str, claims: Mapping[str, str]
    ) -> LimitRefusal | None:
        """Count verifying `claims` about `subject` (`Person:KEY`); None, or why not."""


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
    #: Limits on verification by subject; None where no gateway stands behind the resolvers.
    verification_limits: VerificationLimits | None = None
    #: DataLoaders of this request, by what they load (see resolvers.loaders).
    loaders: dict[tuple[Any, ...], Any] = field(default_factory=dict)
    #: Every record put into the response, as (entity, key), for the audit log (Art. 34).
    returned: list[tuple[str, str]] = field(default_factory=list)
    #: What the audit log must flag about this request, e.g. `seal-invalid:License:KEY`.
    flags: list[str] = field(default_factory=list)

    def saw(self, entity: str, key: object) -> None:
        """Note that the record `key` of `entity` goes into the response."""
        self.returned.append((entity, str(key)))
