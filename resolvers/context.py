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
