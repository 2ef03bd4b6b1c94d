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
    from collections.abc import Iterable, Mapping, Sequence

    from sqlalchemy.ext.asyncio import AsyncEngine

    from policies.catalog import Catalog, Dataset
    from policies.grants import Grants

__all__ = ["FreshnessMonitor", "drawn_on", "stale_warnings"]

log = logging.getLogger("govgate.freshness")


class FreshnessMonitor:
    """The newest `updated_at` of each source, per row scope, cached for `ttl` seconds.

    A district agency learns only when its own division's records last changed (Art. 21): the
    city-wide time would tell it when some record elsewhere changed.
    """

    def __init__(self, engines: Mapping[str, AsyncEngine], *, ttl: float = 60.0) -> None:
        self.engines = engines
        self.ttl = ttl
        #: (source, division or None for the whole city) -> (newest time, when it was read).
        self._cached: dict[tuple[str, str | None], tuple[datetime | None, float]] = {}
        self._lock = asyncio.Lock()

    async def newest(self, grants: Grants) -> dict[str, datetime | None]:
        """Source name -> its newest `updated_at` (UTC, aware) within the scope `grants` give;
        None when there is none (or the source never answered)."""
        out: dict[str, datetime | None] = {}
        for name in self.engines:
            scope = grants.scopes.get(SOURCES[name].entity)
            if scope is None or scope.kind == "none":
                out[name] = None
                continue
            out[name] = await self._newest(
                name, scope.division if scope.kind == "division" else None
            )
        return out

    async def _newest(self, source: str, division: str | None) -> datetime | None:
        key = (source, division)
        found = self._cached.get(key)
        if found is not None and time.monotonic() - found[1] < self.ttl:
            return found[0]
        async with self._lock:
            found = self._cached.get(key)
            if found is not None and time.monotonic() - found[1] < self.ttl:
                return found[0]
            try:
                value = await self._max(source, division)
            except (OSError, TimeoutError, SQLAlchemyError):
                # A source that is down keeps its last known time (or none): freshness must
                # not fail an answer the other sources can give (Art. 20).
                log.warning("freshness: source %s did not answer", source)
                value = found[0] if found else None
            self._cached[key] = (value, time.monotonic())
            return value

    async def _max(self, source_name: str, division: str | None) -> datetime | None:
        table = SOURCES[source_name].table
        statement = select(func.max(table.c.updated_at))
        if division is not None:
            statement = statement.where(table.c.division_code == division)
        async with asyncio.timeout(2.0), self.engines[source_name].connect() as connection:
            value: object = await connection.scalar(statement)
        if isinstance(value, str):  # a driver may hand back text for an aggregate
            value = datetime.fromisoformat(value)
        if not isinstance(value, datetime):
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value  # stored as UTC


def drawn_on(catalog: Catalog, fields: Iterable[str], entities: Iterable[str]) -> list[Dataset]:
    """The datasets a response drew on: it read one of their fields and returned at least one
    record of their type (what freshness and vouchers are about)."""
    read, returned = set(fields), set(entities)
    return [
        d for d in catalog.datasets
        if d.entity in returned and any(share.ref in read for share in d.fields)
    ]  # fmt: skip


def stale_warnings(
    catalog: Catalog,
    grants: Grants,
    *,
    fields: Iterable[str],
    entities: Iterable[str],
    newest: Mapping[str, datetime | None],
    now: datetime,
    drawn: Sequence[Dataset] | None = None,
) -> list[dict[str, object]]:
    """`extensions.warnings` for a response that read `fields` and returned records of
    `entities`: one STALE_DATA warning per stale dataset among them.

    The time (in `lastUpdated` and the message) and the staleness itself are as `grants` may
    know them: to the day unless the agency may read the dataset's `updatedAt` (Art. 17 asks
    for the warning, not for the hour a record changed; policies.freshness)."""
    if drawn is None:  # else the caller's: drawn_on of these fields and entities
        drawn = drawn_on(catalog, fields, entities)
    # Never read (source down): no claim either way.
    touched = [d for d in drawn if newest.get(d.source) is not None]
    warnings: list[dict[str, object]] = []
    for state in freshness_of(touched, newest, now, grants=grants):
        if state.fresh:
            continue
        last = state.shown
        when = (last if state.exact else f"on {last}") if last else "never"
        warnings.append({
            "code": "STALE_DATA",
            "dataset": state.dataset.id,
            "lastUpdated": last,
            "frequency": state.dataset.frequency.text,
            "message": (
                f"Dataset {state.dataset.id} was last updated {when}, longer ago than its "
                f"frequency ({state.dataset.frequency.text}) allows (Art. 17); confirm "
                f"critical values with the provider, {state.dataset.provider}."
            ),
        })  # fmt: skip
    return warnings
