"""A stored value as the response carries it: the resolver path's conversions, per field kind.

The resolver path reads rows through SQLAlchemy (which turns SQLite's date text into `date`),
converts them in `resolvers.records._value` and serialises them with the GraphQL scalar. Plans
read the driver's own values, so each converter here accepts both forms and ends in the same
text or number: dates `YYYY-MM-DD`, times `%Y-%m-%dT%H:%M:%SZ` (stored as UTC), JSON text
parsed, integer kinds as GraphQL Float.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, cast

from graphql import GraphQLBoolean, GraphQLFloat
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.sqlite import DATE, DATETIME

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["converter"]

_SQLITE = sqlite.dialect()
# SQLAlchemy's own parsers for SQLite's date and time text, so the values are the resolvers'.
_TEXT_TO_DATE = cast(
    "Callable[[str], date]",
    DATE().result_processor(_SQLITE, None),  # type: ignore[no-untyped-call]
)
_TEXT_TO_DATETIME = cast(
    "Callable[[str], datetime]",
    DATETIME().result_processor(_SQLITE, None),  # type: ignore[no-untyped-call]
)


def _date(value: Any) -> str:
    if type(value) is date:  # PostgreSQL's and MariaDB's drivers: the common case first
        return value.isoformat()
    if isinstance(value, str):
        value = _TEXT_TO_DATE(value)
    if isinstance(value, datetime):  # a DATE column read as a timestamp (MariaDB never does)
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value.isoformat())


def _datetime(value: Any) -> str:
    if isinstance(value, str):
        value = _TEXT_TO_DATETIME(value)
    if not isinstance(value, datetime):
        return str(value.isoformat())  # a date, as resolvers.records._value would give it
    if value.tzinfo is None and value.year >= 1000:
        # The same text as strftime("%Y-%m-%dT%H:%M:%SZ"), in a tenth of the time.
        return value.isoformat(timespec="seconds") + "Z"
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


_CONVERTERS: dict[str, Callable[[Any], Any] | None] = {
    "string": None,  # drivers hand text over as str, which GraphQL's String keeps as it is
    "date": _date,
    "datetime": _datetime,
    "integer": GraphQLFloat.serialize,  # GraphQL Int is 32-bit: integer kinds are Float
    "float": GraphQLFloat.serialize,
    "boolean": GraphQLBoolean.serialize,  # SQLite and MariaDB store 0 and 1
    "json": _json,
}


def converter(kind: str) -> Callable[[Any], Any] | None:
    """The converter for an inventory field kind (None: the value is used as it is)."""
    return _CONVERTERS[kind]
