"""Statement texts for plans, per dialect: the SQL the resolvers' SQLAlchemy queries send.

Every value is a bound parameter (the row scope's division included); identifiers are the
inventory's own table and column names, written as SQLAlchemy writes them (its quoting
rules per dialect): nothing a client sends becomes SQL text. A text depends only on the plan
and the shape of the request (how many keys, which filters), so drivers prepare it once and
reuse it: asyncpg and sqlite3 keep prepared statements per connection, keyed by the text.

    Keyed look-ups and links   SELECT table.cols [, issuer_keys.cols] FROM table
                               [LEFT OUTER JOIN issuer_keys ON issuer_keys.key_id = ...]
                               WHERE table.by <one of the keys> [AND table.kind = ?]
                               [AND scope] ORDER BY table.key
    Pages                      ... WHERE filters [AND table.key > ?] [AND scope]
                               ORDER BY table.key LIMIT ?
    Verification               SELECT persons.id_number, persons.claimed... FROM persons
                               WHERE persons.id_number = ? [AND scope]
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.dialects import mysql, postgresql, sqlite

from sources.inventory import SOURCES

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from policies.grants import RowScope

__all__ = [
    "DIALECTS",
    "REGISTRY_COLUMNS",
    "Dialect",
    "keyed_statement",
    "page_statement",
    "verify_statement",
]

#: The seal registry's columns a licence row is joined with, in this order.
REGISTRY_COLUMNS = ("issuer_code", "algorithm", "public_key")


@dataclass(frozen=True, slots=True)
class Dialect:
    """How one kind of database spells parameters, names and "one of these keys"."""

    name: str
    param: Callable[[int], str]
    quote: Callable[[str], str]
    #: The ESCAPE clause for LIKE, with resolvers.arguments.LIKE_ESCAPE (`/`).
    escape: str
    #: (column SQL, number of keys) -> the term matching any of the keys, with `{}` for each
    #: parameter; and the keys -> the parameter values.
    any_of: Callable[[str, int], str]
    pack: Callable[[list[str]], list[Any]]


def _pg_any(column: str, count: int) -> str:
    return f"{column} = {{}}" if count == 1 else f"{column} = ANY({{}}::varchar[])"


def _pg_pack(keys: list[str]) -> list[Any]:
    return [keys[0]] if len(keys) == 1 else [keys]


def _sqlite_any(column: str, count: int) -> str:
    # One text for any number of keys (sqlite3 caches statements by text); SQLite still walks
    # the column's index for each key of the JSON array.
    if count == 1:
        return f"{column} = {{}}"
    return f"{column} IN (SELECT value FROM json_each({{}}))"  # noqa: S608 (see the module doc)


def _sqlite_pack(keys: list[str]) -> list[Any]:
    return [keys[0]] if len(keys) == 1 else [json.dumps(keys, ensure_ascii=False)]


def _mysql_any(column: str, count: int) -> str:
    # asyncmy fills the parameters in on the client: one text per number of keys costs nothing.
    return f"{column} = {{}}" if count == 1 else f"{column} IN ({', '.join(['{}'] * count)})"


def _mysql_pack(keys: list[str]) -> list[Any]:
    return list(keys)


def _quoting(dialect: Any) -> Callable[[str], str]:
    """SQLAlchemy's quoting of names for `dialect`: only where the name needs it."""
    quote: Callable[[str], str] = dialect().identifier_preparer.quote
    return quote


DIALECTS: dict[str, Dialect] = {
    "postgresql": Dialect("postgresql", lambda n: f"${n}", _quoting(postgresql.dialect),
                          "ESCAPE '/'", _pg_any, _pg_pack),
    "sqlite": Dialect("sqlite", lambda _n: "?", _quoting(sqlite.dialect),
                      "ESCAPE '/'", _sqlite_any, _sqlite_pack),
    "mysql": Dialect("mysql", lambda _n: "%s", _quoting(mysql.dialect),
                     "ESCAPE '/'", _mysql_any, _mysql_pack),
}  # fmt: skip


def _numbered(dialect: Dialect, text: str) -> str:
    """`text` with each `{}` replaced by the dialect's next parameter marker."""
    count = text.count("{}")
    return text.format(*(dialect.param(n) for n in range(1, count + 1)))


def _column(dialect: Dialect, source: str, column: str) -> str:
    q = dialect.quote
    return f"{q(SOURCES[source].table.name)}.{q(column)}"


def _select(dialect: Dialect, source: str, columns: Sequence[str], seal: bool) -> str:
    q = dialect.quote
    table = q(SOURCES[source].table.name)
    listed = [f"{table}.{q(c)}" for c in columns]
    joined = ""
    if seal:
        keys = q("issuer_keys")
        listed += [f"{keys}.{q(c)}" for c in REGISTRY_COLUMNS]
        joined = f" LEFT OUTER JOIN {keys} ON {keys}.{q('key_id')} = {table}.{q('seal_key_id')}"
    return f"SELECT {', '.join(listed)} FROM {table}{joined}"  # noqa: S608 (module doc)


def _scope(dialect: Dialect, source: str, scope: RowScope) -> tuple[list[str], list[Any]]:
    """The row-scope term (Art. 21) and its parameter."""
    if scope.kind == "city":
        return [], []
    if scope.kind == "division":
        return [f"{_column(dialect, source, 'division_code')} = {{}}"], [scope.division]
    return ["1 = 0"], []


def _key_column(source: str) -> str:
    spec = SOURCES[source]
    return spec.field(spec.key).columns[0]


def keyed_statement(
    dialect: Dialect,
    *,
    source: str,
    columns: Sequence[str],
    seal: bool,
    by: str,
    kind: tuple[str, str] | None,
    scope: RowScope,
    count: int,
) -> tuple[str, list[Any]]:
    """The text matching `count` keys (1, or any number), and the parameters after the keys."""
    terms = [dialect.any_of(_column(dialect, source, by), count)]
    tail: list[Any] = []
    if kind is not None:
        terms.append(f"{_column(dialect, source, kind[0])} = {{}}")
        tail.append(kind[1])
    scoped, values = _scope(dialect, source, scope)
    terms += scoped
    tail += values
    text = (
        f"{_select(dialect, source, columns, seal)} WHERE {' AND '.join(terms)}"
        f" ORDER BY {_column(dialect, source, _key_column(source))}"
    )
    return _numbered(dialect, text), tail


def page_statement(
    dialect: Dialect,
    *,
    source: str,
    columns: Sequence[str],
    seal: bool,
    terms: Sequence[tuple[str, str]],
    after: bool,
    scope: RowScope,
) -> tuple[str, list[Any]]:
    """A page's text for filter `terms` ((how, column): `eq`, `like`, `bbox`), with or without a
    cursor; and the parameters after the filters' and the cursor's (scope, then the limit's
    place is last: the caller appends the limit)."""
    key = _column(dialect, source, _key_column(source))
    where: list[str] = []
    for how, column in terms:
        if how == "eq":
            where.append(f"{_column(dialect, source, column)} = {{}}")
        elif how == "like":
            where.append(f"{_column(dialect, source, column)} LIKE {{}} {dialect.escape}")
        else:  # bbox: rectangles intersect when each starts before the other ends
            where += [f"{_column(dialect, source, edge)} {compare} {{}}" for edge, compare in
                      (("min_lon", "<="), ("max_lon", ">="), ("min_lat", "<="),
                       ("max_lat", ">="))]  # fmt: skip
    if after:
        where.append(f"{key} > {{}}")
    scoped, tail = _scope(dialect, source, scope)
    where += scoped
    condition = f" WHERE {' AND '.join(where)}" if where else ""
    text = f"{_select(dialect, source, columns, seal)}{condition} ORDER BY {key} LIMIT {{}}"
    return _numbered(dialect, text), tail


def verify_statement(
    dialect: Dialect, *, claimed: Sequence[str], scope: RowScope
) -> tuple[str, list[Any]]:
    """The text reading a person's claimed columns by ID number; the parameters after it."""
    columns = ["id_number", *claimed]
    terms = [f"{_column(dialect, 'persons', 'id_number')} = {{}}"]
    scoped, tail = _scope(dialect, "persons", scope)
    terms += scoped
    text = f"{_select(dialect, 'persons', columns, False)} WHERE {' AND '.join(terms)}"
    return _numbered(dialect, text), tail
