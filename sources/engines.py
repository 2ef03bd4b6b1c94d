"""Where the base databases live: one SQLAlchemy URL and one async engine per source.

By default each source is a SQLite file in a data folder (`persons.db`, `entities.db`,
`land.db`, `licenses.db`); any source can instead be a PostgreSQL (or other SQLAlchemy) URL.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from sources.errors import SourceConfigError
from sources.inventory import SOURCES

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["default_urls", "make_engine", "parse_source_urls", "sqlite_path"]


def default_urls(data_dir: Path) -> dict[str, str]:
    """The embedded default: one SQLite file per source in `data_dir`."""
    return {name: f"sqlite+aiosqlite:///{data_dir / f'{name}.db'}" for name in SOURCES}


def parse_source_urls(pairs: Iterable[str]) -> dict[str, str]:
    """Validate `SOURCE=URL` overrides; raises SourceConfigError saying what to fix."""
    urls: dict[str, str] = {}
    for pair in pairs:
        name, sep, url = (part.strip() for part in pair.partition("="))
        if not sep:
            raise SourceConfigError(
                f"{pair!r} is not of the form SOURCE=URL, e.g. "
                "persons=postgresql+asyncpg://user@host/db."
            )
        if name not in SOURCES:
            known = ", ".join(SOURCES)
            raise SourceConfigError(f"{name!r} is not a source; the sources are {known}.")
        try:
            make_url(url)
        except ArgumentError:
            raise SourceConfigError(
                f"The URL for source {name!r} is not a SQLAlchemy URL: write it like "
                "sqlite+aiosqlite:///path.db or postgresql+asyncpg://user@host/db."
            ) from None
        urls[name] = url
    return urls


def sqlite_path(url: str) -> Path | None:
    """The file behind a SQLite URL, or None for a server (or in-memory) database."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    if parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def make_engine(url: str, *, bulk_load: bool = False) -> AsyncEngine:
    """An async engine for a source URL.

    `bulk_load` trades durability for speed while a fresh SQLite file is being filled (the
    seeder's case: a crash leaves a file that is simply seeded again).
    """
    engine = create_async_engine(url)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_connection: object, _record: object) -> None:
            cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
            if bulk_load:
                cursor.execute("PRAGMA journal_mode=MEMORY")
                cursor.execute("PRAGMA synchronous=OFF")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

    return engine
