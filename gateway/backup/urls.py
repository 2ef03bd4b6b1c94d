"""Database URLs: which kind of database, which database however spelled, and the public form."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine import URL, make_url

from gateway.backup.errors import BackupError

if TYPE_CHECKING:
    from gateway.backup.manifest import Kind

__all__ = ["identity", "kind_of", "public", "sqlite_file"]


def kind_of(url: str) -> Kind:
    """The kind of database at `url`; raises BackupError for one govgate cannot back up."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite" and parsed.database not in (None, "", ":memory:"):
        return "sqlite"
    if backend == "postgresql":
        return "postgresql"
    if backend in {"mysql", "mariadb"}:
        return "mysql"
    raise BackupError(
        f"govgate cannot back up {public(url)}: it backs up SQLite files, "
        "PostgreSQL and MariaDB/MySQL databases."
    )


def identity(url: str) -> str:
    """The same database, however its URL is spelled (driver, relative path, password)."""
    if kind_of(url) == "sqlite":
        return str(sqlite_file(url).resolve())
    parsed = make_url(url)
    return public(parsed.set(drivername=parsed.get_backend_name()))


def public(url: str | URL) -> str:
    """The URL without its password: what the manifest and messages show."""
    parsed = make_url(url)
    bare = URL.create(
        parsed.drivername,
        username=parsed.username,
        host=parsed.host,
        port=parsed.port,
        database=parsed.database,
        query=parsed.query,
    )
    return bare.render_as_string(hide_password=False)


def sqlite_file(url: str) -> Path:
    """The file of an SQLite URL."""
    return Path(make_url(url).database or "")
