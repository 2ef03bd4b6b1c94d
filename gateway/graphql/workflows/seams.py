"""The objection seams over the real sources: may the agency read it, and what is there now.

- `can_read_in(context)`: the request's own (duty-bound) grants allow the field, and the record
  exists inside the agency's row scope (Art. 21), asked through the resolvers' `scoped_select`
  and `fetch`, the path a query takes. Nothing is added to the request's returned records: an
  objection names a record, it does not read it.
- `source_reader(engines, timeouts)`: the value in the provider's database, whoever asks
  (the administrator and the provider confirm a correction there); `ABSENT` for a record that
  is gone. A source that cannot be read raises; the core turns that into SOURCE_UNAVAILABLE.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from gateway.workflows.types import ABSENT
from resolvers.fetch import DEFAULT_TIMEOUT, fetch, scoped_select
from sources.inventory import BY_ENTITY

if TYPE_CHECKING:
    from collections.abc import Mapping

    from sqlalchemy.ext.asyncio import AsyncEngine

    from gateway.workflows.refs import RecordRef
    from gateway.workflows.types import CanRead, ReadSource
    from resolvers.context import RequestContext

__all__ = ["can_read_in", "source_reader"]


def can_read_in(context: RequestContext) -> CanRead:
    """`CanRead` for the agency of `context`, with that request's grants and row scope."""

    async def can_read(agency: str, record: RecordRef, field: str) -> bool:
        grants = context.grants
        if agency != grants.agency.code or not grants.can("query", field):
            return False
        source = BY_ENTITY[record.type]
        key = source.field(source.key).columns[0]
        table = source.table
        statement = scoped_select(context, source.name, [key]).where(table.c[key] == record.key)
        return bool(await fetch(context, source.name, statement.limit(1)))

    return can_read


def source_reader(
    engines: Mapping[str, AsyncEngine], timeouts: Mapping[str, float] | None = None
) -> ReadSource:
    """`ReadSource` over the sources' engines, each read within its time limit (Art. 20)."""

    async def read(record: RecordRef, field: str) -> object:
        source = BY_ENTITY[record.type]
        spec = source.field(field.partition(".")[2])
        key = source.field(source.key).columns[0]
        table = source.table
        statement = select(*(table.c[c] for c in spec.columns)).where(table.c[key] == record.key)
        limit = (timeouts or {}).get(source.name, DEFAULT_TIMEOUT)
        async with asyncio.timeout(limit), engines[source.name].connect() as connection:
            row = (await connection.execute(statement.limit(1))).first()
        if row is None:
            return ABSENT
        values: list[Any] = list(row)
        return values[0] if len(values) == 1 else dict(zip(spec.columns, values, strict=True))

    return read
