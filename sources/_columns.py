"""Column types and table options that mean the same on SQLite, PostgreSQL and MariaDB.

SQLAlchemy's generic types are right for SQLite and PostgreSQL; on MariaDB (and MySQL) three of
them would silently lose data, so each gets a MariaDB variant. The other dialects see the generic
type, so their tables (and a seeded SQLite file's bytes) are as before.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from sqlalchemy import DateTime, Double, Float, Text
from sqlalchemy.dialects import mysql

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["LONG_TEXT", "REAL", "TABLE_OPTIONS", "TIMESTAMP"]

_MARIADB = ("mysql", "mariadb")

#: A UTC timestamp. MariaDB's DATETIME keeps whole seconds unless told to keep microseconds.
TIMESTAMP = DateTime().with_variant(mysql.DATETIME(fsp=6), *_MARIADB)

#: A double-precision number. MariaDB's FLOAT is single precision (about 7 digits, not 15).
REAL = Float().with_variant(Double(), *_MARIADB)

#: Text of any length, such as a GeoJSON boundary. MariaDB's TEXT stops at 64 KiB; MEDIUMTEXT
#: holds 16 MiB, enough for a parcel with tens of thousands of vertices.
LONG_TEXT = Text().with_variant(mysql.MEDIUMTEXT(), *_MARIADB)

#: Every MariaDB table stores 4-byte UTF-8 (utf8mb3 cannot hold rarer Chinese characters such
#: as 𠮷) and compares by code point, as SQLite does: a case- or accent-insensitive collation
#: would let 'x' find an ID number ending in 'X' on MariaDB only, and sort names differently.
TABLE_OPTIONS: Mapping[str, Any] = MappingProxyType(
    {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}
)
