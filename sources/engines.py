"""Where the base databases live: one SQLAlchemy URL and one async engine per source.

By default each source is a SQLite file in a data folder (`persons.db`, `entities.db`,
`land.db`, `licenses.db`); any source can instead be a PostgreSQL (`postgresql+asyncpg://`) or
MariaDB (`mysql+asyncmy://`) URL. `SourceOptions` sizes each source's pool and bounds how long
a connection attempt and a statement may take (docs/data-model.md, "Sources on servers").
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from sources.errors import SourceConfigError
from sources.inventory import SOURCES

if TYPE_CHECKING:
    from collections.abc import Iterable

    from sqlalchemy.engine import URL, Engine

__all__ = [
    "SourceOptions",
    "default_urls",
    "make_engine",
    "mariadb_connect_args",
    "mariadb_statement_timeout",
    "options_of",
    "parse_source_urls",
    "postgresql_connect_args",
    "sqlite_path",
]

#: How long the client waits past a server's own statement timeout before giving up on the
#: connection: the server cancels first and says so; the client's limit is for a server that
#: cannot answer at all.
_CLIENT_GRACE_S = 1.0
#: The one async driver per database that `make_engine` knows how to configure.
_DRIVERS = {
    "sqlite": "aiosqlite",
    "postgresql": "asyncpg",
    "mysql": "asyncmy",
    "mariadb": "asyncmy",
}


@dataclass(frozen=True, kw_only=True, slots=True)
class SourceOptions:
    """How the gateway connects to one source.

    Attributes:
        pool_size: connections kept open.
        max_overflow: extra connections opened under load, closed when returned.
        statement_timeout_ms: the server cancels a statement running longer; 0 for no limit.
            SQLite has no statement timeout.
        connect_timeout_s: how long to wait for a connection (SQLite: for a locked file).
    """

    pool_size: int = 5
    max_overflow: int = 5
    statement_timeout_ms: int = 5000
    connect_timeout_s: float = 5.0

    def __post_init__(self) -> None:
        if self.pool_size < 1:
            raise SourceConfigError(f"pool_size must be 1 or more, not {self.pool_size}.")
        if self.max_overflow < 0:
            raise SourceConfigError(f"max_overflow must be 0 or more, not {self.max_overflow}.")
        if self.statement_timeout_ms < 0:
            raise SourceConfigError(
                f"statement_timeout_ms must be 0 (no limit) or more, "
                f"not {self.statement_timeout_ms}."
            )
        if not self.connect_timeout_s > 0:
            raise SourceConfigError(
                f"connect_timeout_s must be more than 0 seconds, not {self.connect_timeout_s}."
            )


#: The options each engine was made with, for code that opens the driver's own connections to
#: the same source (the gateway's compiled plans): same pool sizes, same time limits.
_OPTIONS: weakref.WeakKeyDictionary[Engine, SourceOptions] = weakref.WeakKeyDictionary()


def options_of(engine: AsyncEngine) -> SourceOptions:
    """The options `make_engine` made `engine` with (the defaults for an engine made elsewhere)."""
    return _OPTIONS.get(engine.sync_engine, SourceOptions())


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
            parsed = make_url(url)
        except ArgumentError:
            raise SourceConfigError(
                f"The URL for source {name!r} is not a SQLAlchemy URL: write it like "
                "sqlite+aiosqlite:///path.db, postgresql+asyncpg://user@host/db or "
                "mysql+asyncmy://user@host/db."
            ) from None
        _check_driver(parsed)
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


def make_engine(
    url: str, *, options: SourceOptions | None = None, bulk_load: bool = False
) -> AsyncEngine:
    """An async engine for a source URL, with its pool and timeouts set from `options`.

    `bulk_load` trades durability for speed while a fresh SQLite file is being filled (the
    seeder's case: a crash leaves a file that is simply seeded again). Raises
    SourceConfigError for a URL whose driver govgate does not configure.
    """
    options = options or SourceOptions()
    parsed = make_url(url)
    _check_driver(parsed)
    backend = parsed.get_backend_name()
    kwargs: dict[str, Any] = {}
    if backend != "sqlite" or _is_sqlite_file(parsed):
        # An in-memory SQLite database lives in one connection (SQLAlchemy's StaticPool),
        # which takes no sizes.
        kwargs |= {"pool_size": options.pool_size, "max_overflow": options.max_overflow}
    if backend == "postgresql":
        kwargs["connect_args"] = postgresql_connect_args(options)
    elif backend == "sqlite":
        # sqlite3's busy timeout: how long to wait for another writer's lock. SQLite itself
        # has no statement timeout.
        kwargs["connect_args"] = {"timeout": options.connect_timeout_s}
    else:
        kwargs["connect_args"] = mariadb_connect_args(parsed, options)
    engine = create_async_engine(parsed, **kwargs)
    _OPTIONS[engine.sync_engine] = options
    if backend == "sqlite":

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_connection: object, _record: object) -> None:
            cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
            if bulk_load:
                cursor.execute("PRAGMA journal_mode=MEMORY")
                cursor.execute("PRAGMA synchronous=OFF")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

    elif backend in {"mysql", "mariadb"}:
        # Set even when 0 (no limit), so a server-wide default does not apply instead.
        dialect = engine.dialect

        @event.listens_for(engine.sync_engine, "connect")
        def _statement_timeout(dbapi_connection: object, _record: object) -> None:
            # The dialect has met the server before this runs (its first-connect hook comes
            # first), so it knows whether the server is MariaDB or MySQL.
            setting = mariadb_statement_timeout(getattr(dialect, "is_mariadb", False), options)
            cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
            cursor.execute(setting)
            cursor.close()

    return engine


def _check_driver(url: URL) -> None:
    driver = _DRIVERS.get(url.get_backend_name())
    if driver is None or url.get_driver_name() != driver:
        supported = ", ".join(f"{b}+{d}://" for b, d in _DRIVERS.items())
        raise SourceConfigError(
            f"govgate cannot connect to {url.drivername}:// URLs; write the URL with one of "
            f"the async drivers it configures: {supported}."
        )


def _is_sqlite_file(url: URL) -> bool:
    return bool(url.database) and url.database != ":memory:" and url.query.get("mode") != "memory"


def postgresql_connect_args(options: SourceOptions) -> dict[str, Any]:
    """asyncpg's `connect()` keywords for `options` (time limits, the server's statement
    timeout)."""
    # asyncpg: `timeout` bounds the whole connection set-up; the server's statement_timeout
    # cancels a statement; `command_timeout` is the client's backstop a moment later.
    timeout_ms = options.statement_timeout_ms
    return {
        "timeout": options.connect_timeout_s,
        "command_timeout": timeout_ms / 1000 + _CLIENT_GRACE_S if timeout_ms else None,
        "server_settings": {"statement_timeout": str(timeout_ms)},
    }


def mariadb_statement_timeout(is_mariadb: bool, options: SourceOptions) -> str:
    """The statement that sets a MariaDB (or MySQL) session's statement timeout."""
    if is_mariadb:  # MariaDB: seconds, for every statement
        return f"SET SESSION max_statement_time = {options.statement_timeout_ms / 1000:.3f}"
    # MySQL's nearest equivalent: milliseconds, for SELECT only.
    return f"SET SESSION max_execution_time = {options.statement_timeout_ms}"


def mariadb_connect_args(url: URL, options: SourceOptions) -> dict[str, Any]:
    """asyncmy's `connect()` keywords for `options` (time limits, utf8mb4)."""
    # asyncmy: `connect_timeout` bounds opening the TCP connection; `read_timeout` is the
    # client's backstop for any one reply, the server's handshake included. The statement
    # timeout itself is a session variable, set on connect.
    args: dict[str, Any] = {"connect_timeout": options.connect_timeout_s}
    if options.statement_timeout_ms:
        args["read_timeout"] = options.statement_timeout_ms / 1000 + _CLIENT_GRACE_S
    if "charset" not in url.query:
        # Chinese names need utf8mb4 (4-byte characters); a URL's own charset= wins.
        args["charset"] = "utf8mb4"
    return args
