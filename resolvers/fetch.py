"""SQL for one source: only the columns asked for and granted, only the rows in scope.

Resolvers never decide permissions: they read the caller's precomputed `Grants` (computed by
`policies`) and turn them into a column list and a WHERE clause (Art. 21 row scope).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from sqlalchemy import false, select
from sqlalchemy.exc import DBAPIError
from strawberry.dataloader import DataLoader

from resolvers.errors import SourceUnavailableError
from sources.inventory import SOURCES
from sources.licenses import issuer_keys

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from sqlalchemy import ColumnElement, RowMapping, Select, Table

    from policies.grants import Grants, RowScope
    from resolvers.context import RequestContext
    from sources.types import SourceSpec

#: Seconds a source may take for one statement when the deployment sets no limit of its own.
DEFAULT_TIMEOUT = 10.0

__all__ = [
    "DEFAULT_TIMEOUT",
    "columns_for",
    "fetch",
    "issuer_key_loader",
    "loader",
    "scope_clauses",
    "unreachable",
]

_MAX_BATCH = 500


def columns_for(
    source: SourceSpec, names: Iterable[str], grants: Grants, extra: Iterable[str] = ()
) -> list[str]:
    """Table columns for the selected field `names` that `grants` allows, plus `extra` columns.

    The key column is always included (links and cursors need it); it is only returned to the
    client when its field is selected and granted.
    """
    wanted = set(names)
    columns = [source.field(source.key).columns[0], *extra]
    for spec in source.fields:
        if spec.name in wanted and grants.can("query", f"{source.entity}.{spec.name}"):
            columns.extend(spec.columns)
    return list(dict.fromkeys(columns))  # de-duplicated, order kept


def scope_clauses(table: Table, scope: RowScope) -> list[ColumnElement[bool]]:
    """The WHERE terms that keep a query inside the caller's region (Art. 21)."""
    if scope.kind == "city":
        return []
    if scope.kind == "division":
        return [table.c.division_code == scope.division]
    return [false()]


def scoped_select(ctx: RequestContext, source_name: str, columns: Sequence[str]) -> Select[Any]:
    """SELECT `columns` FROM the source's table, already restricted to the caller's scope."""
    source = SOURCES[source_name]
    table = source.table
    scope = ctx.grants.scopes[source.entity]
    return select(*(table.c[c] for c in columns)).where(*scope_clauses(table, scope))


async def fetch(ctx: RequestContext, source_name: str, statement: Select[Any]) -> list[RowMapping]:
    """Run one statement against one source, within the source's time limit.

    Raises SourceUnavailableError when the source cannot be reached, fails for want of a
    connection, or does not answer in time (Art. 20): the fields it feeds are null, the rest of
    the answer stands.
    """
    limit = ctx.timeouts.get(source_name, DEFAULT_TIMEOUT)
    try:
        async with asyncio.timeout(limit), ctx.engines[source_name].connect() as connection:
            result = await connection.execute(statement)
            return list(result.mappings())
    except TimeoutError:
        raise SourceUnavailableError(source_name, f"did not answer within {limit:g} s") from None
    except OSError as error:
        raise SourceUnavailableError(source_name, "cannot be reached") from error
    except DBAPIError as error:
        if _unreachable(error):
            raise SourceUnavailableError(source_name, "cannot be reached") from error
        raise  # a broken schema or a bug: masked as an internal error, logged with the request id


#: Driver errors that mean "no connection" or "too slow", by class name or message fragment.
_UNREACHABLE_NAMES = ("connection", "cannotconnect", "cancel", "timeout", "interfaceerror")
# "can't connect": MariaDB's 2002 and 2003 (no server at that address), which name no
# connection in their class or their words.
_UNREACHABLE_TEXT = ("unable to open database file", "database is locked", "disk i/o error",
                     "connection", "timeout", "timed out", "interrupted", "server has gone away",
                     "lost connection", "can't connect")  # fmt: skip


def _unreachable(error: DBAPIError) -> bool:
    """Whether a driver error means the source is down or too slow, not that the query or the
    schema is wrong (those stay internal errors, so they are noticed and fixed)."""
    return error.connection_invalidated or (error.orig is not None and unreachable(error.orig))


def unreachable(error: BaseException) -> bool:
    """Whether a driver's own exception (asyncpg, sqlite3, asyncmy, or SQLAlchemy's wrapping of
    one) means the source is down or too slow rather than that the query is wrong."""
    if isinstance(error, OSError):
        return True
    name = type(error).__name__.lower()
    text = str(error).lower()
    return any(part in name for part in _UNREACHABLE_NAMES) or any(
        part in text for part in _UNREACHABLE_TEXT
    )


def loader(
    ctx: RequestContext,
    source_name: str,
    by: str,
    columns: Sequence[str],
    *,
    kind: tuple[str, str] | None = None,
) -> DataLoader[str, list[RowMapping]]:
    """The request's DataLoader for rows of `source_name` whose column `by` equals a key.

    One loader per (source, join column, columns, kind filter) and request: every record of a
    page that asks for the same link shares it, so a page costs one query per link, not one per
    record. `kind` = (column, value) narrows polymorphic links (holder kind person/entity).
    """
    wanted = tuple(dict.fromkeys((by, *columns)))
    key = ("rows", source_name, by, wanted, kind)
    found = ctx.loaders.get(key)
    if found is not None:
        return found  # type: ignore[no-any-return]

    async def batch(keys: list[str]) -> list[list[RowMapping]]:
        table = SOURCES[source_name].table
        statement = scoped_select(ctx, source_name, wanted).where(table.c[by].in_(set(keys)))
        if kind is not None:
            statement = statement.where(table.c[kind[0]] == kind[1])
        groups: dict[str, list[RowMapping]] = defaultdict(list)
        for row in await fetch(ctx, source_name, statement.order_by(*table.primary_key)):
            groups[row[by]].append(row)
        return [groups.get(k, []) for k in keys]

    made: DataLoader[str, list[RowMapping]] = DataLoader(batch, max_batch_size=_MAX_BATCH)
    ctx.loaders[key] = made
    return made


def issuer_key_loader(ctx: RequestContext) -> DataLoader[str, RowMapping | None]:
    """The request's DataLoader for the seal registry (`issuer_keys`): key id -> its row or None.

    One per request, shared by every licence whose seal is checked, so a page of licences costs
    one registry query, not one per licence. Public keys have no row scope: anyone may check a
    seal (Art. 23).
    """
    key = ("issuer_keys",)
    found = ctx.loaders.get(key)
    if found is not None:
        return found  # type: ignore[no-any-return]

    async def batch(keys: list[str]) -> list[RowMapping | None]:
        statement = select(
            issuer_keys.c.key_id,
            issuer_keys.c.issuer_code,
            issuer_keys.c.algorithm,
            issuer_keys.c.public_key,
        ).where(issuer_keys.c.key_id.in_(set(keys)))
        # The registry lives in the licences database.
        rows = {row["key_id"]: row for row in await fetch(ctx, "licenses", statement)}
        return [rows.get(k) for k in keys]

    made: DataLoader[str, RowMapping | None] = DataLoader(batch, max_batch_size=_MAX_BATCH)
    ctx.loaders[key] = made
    return made
