"""What every resolver of one request can reach: the caller's grants, the sources, the limits."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping

    from sqlalchemy.ext.asyncio import AsyncEngine

    from policies.catalog import Catalog
    from policies.grants import Grants

__all__ = ["RequestContext"]


@dataclass(kw_only=True)
class RequestContext:
    """Per request: built by the gateway, read by resolvers (which never decide permissions)."""

    grants: Grants
    catalog: Catalog
    policy_version: str
    engines: Mapping[str, AsyncEngine]
    max_page_size: int
    request_id: str
    #: DataLoaders of this request, by what they load (see resolvers.loaders).
    loaders: dict[tuple[Any, ...], Any] = field(default_factory=dict)
    #: Every record put into the response, as (entity, key), for the audit log (Art. 34).
    returned: list[tuple[str, str]] = field(default_factory=list)
    #: What the audit log must flag about this request, e.g. `seal-invalid:License:KEY`.
    flags: list[str] = field(default_factory=list)

    def saw(self, entity: str, key: object) -> None:
        """Note that the record `key` of `entity` goes into the response."""
        self.returned.append((entity, str(key)))
