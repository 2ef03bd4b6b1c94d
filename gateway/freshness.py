"""Freshness at the gateway (Art. 17): each source's newest `updated_at`, and the warnings a
response carries when it includes data from a dataset older than its frequency allows.

The newest time per source is one indexed MAX() query, cached for `ttl` seconds, so answering a
request costs no extra SQL (policies.freshness decides what counts as stale).
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from policies.freshness import freshness_of
from sources.inventory import SOURCES

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from sqlalchemy.ext.asyncio import AsyncEngine

    from policies.catalog import Catalog

__all__ = ["FreshnessMonitor", "stale_warnings"]

log = logging.getLogger("govgate.freshness")


class FreshnessMonitor:
    """The newest `updated_at` of each source, cached for `ttl` seconds."""

    def __init__(self, engines: Mapping[str, AsyncEngine], *, ttl: float = 60.0) -> None:
        self.engines = engines
        self.ttl = ttl
        self._cached: dict[str, datetime | None] = {}
        self._taken = float("-inf")
        self._lock = asyncio.Lock()

    async def newest(self) -> dict[str, datetime | None]:
        """Source name -> its newest `updated_at` (UTC, aware), or None when it is empty."""
        if time.monotonic() - self._taken < self.ttl:
            return self._cached
        async with self._lock:
            if time.monotonic() - self._taken >= self.ttl:
                fresh = dict(self._cached)
                for name in self.engines:
                    try:
                        fresh[name] = await self._max(name)
                    except (OSError, TimeoutError, SQLAlchemyError):
                        # A source that is down keeps its last known time (or none): freshness
                        # must not fail an answer the other sources can give (Art. 20).
                        log.warning("freshness: source %s did not answer", name)
                self._cached = fresh
                self._taken = time.monotonic()
        return self._cached

    async def _max(self, source_name: str) -> datetime | None:
        table = SOURCES[source_name].table
        async with asyncio.timeout(2.0), self.engines[source_name].connect() as connection:
            value: object = await connection.scalar(select(func.max(table.c.updated_at)))
        if isinstance(value, str):  # a driver may hand back text for an aggregate
            value = datetime.fromisoformat(value)
        if not isinstance(value, datetime):
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value  # stored as UTC


def stale_warnings(
    catalog: Catalog,
    fields: Iterable[str],
    entities: Iterable[str],
    newest: Mapping[str, datetime | None],
    now: datetime,
) -> list[dict[str, object]]:
    """`extensions.warnings` for a response that read `fields` and returned records of
    `entities`: one STALE_DATA warning per stale dataset among them."""
    read, returned = set(fields), set(entities)
    touched = [
        d for d in catalog.datasets
        if d.entity in returned and any(share.ref in read for share in d.fields)
        and newest.get(d.source) is not None  # never read (source down): no claim either way
    ]  # fmt: skip
    warnings: list[dict[str, object]] = []
    for state in freshness_of(touched, newest, now):
        if state.fresh:
            continue
        last = state.last_updated.strftime("%Y-%m-%dT%H:%M:%SZ") if state.last_updated else None
        warnings.append({
            "code": "STALE_DATA",
            "dataset": state.dataset.id,
            "lastUpdated": last,
            "frequency": state.dataset.frequency.text,
            "message": (
                f"Dataset {state.dataset.id} was last updated {last or 'never'}, longer ago than "
                f"its frequency ({state.dataset.frequency.text}) allows (Art. 17); confirm "
                f"critical values with the provider, {state.dataset.provider}."
            ),
        })  # fmt: skip
    return warnings
