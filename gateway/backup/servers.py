"""Database servers: pg_dump / pg_restore and mariadb-dump / mariadb, run as programs.

A URL becomes the program's command line, with the password in its environment (PGPASSWORD,
MYSQL_PWD), never on the command line, where `ps` shows it.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from sqlalchemy import func, inspect, select, table, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from gateway.backup._progress import progress_bar
from gateway.backup.errors import BackupError
from gateway.backup.urls import public

if TYPE_CHECKING:
    from collections.abc import Mapping

    from sqlalchemy.engine import URL
    from sqlalchemy.ext.asyncio import AsyncConnection
    from tqdm import tqdm

__all__ = [
    "DUMP_TOOLS",
    "LOAD_TOOLS",
    "dump_mysql",
    "dump_postgresql",
    "restore_mysql",
    "restore_postgresql",
    "server_rows",
    "tool",
]

#: The programs that dump and load each kind of server database, the first installed used.
DUMP_TOOLS = {"postgresql": ("pg_dump",), "mysql": ("mariadb-dump", "mysqldump")}
LOAD_TOOLS = {"postgresql": ("pg_restore",), "mysql": ("mariadb", "mysql")}
_PACKAGES = {
    "pg_dump": "postgresql-client",
    "pg_restore": "postgresql-client",
    "mariadb-dump": "mariadb-client",
    "mariadb": "mariadb-client",
}
_SSL_MODES = {"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}


async def dump_postgresql(url: str, path: Path, name: str) -> dict[str, int]:
    """pg_dump the database at `url` into `path`; the rows per table of the dump."""
    options, env = _pg_options(make_url(url))
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            snapshot = await connection.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
            # pg_dump copies this very snapshot (--snapshot), so the counts are the dump's.
            exported = str(await snapshot.scalar(text("SELECT pg_export_snapshot()")))
            tables = await _count_rows(snapshot)
            argv = [
                tool("pg_dump"),
                "--format=custom",
                f"--snapshot={exported}",
                f"--file={path}",
                *options,
            ]
            await _run(argv, env, f"dumping {name}", watch=path)
    finally:
        await engine.dispose()
    return tables


async def dump_mysql(url: str, path: Path, name: str) -> dict[str, int]:
    """mariadb-dump the database at `url` into `path`; the rows per table of the dump."""
    options, env = _mysql_options(make_url(url))
    argv = [
        tool(*DUMP_TOOLS["mysql"]),
        "--single-transaction",
        "--quick",
        "--hex-blob",
        "--no-tablespaces",
        "--triggers",
        f"--result-file={path}",
        *options,
    ]
    await _run(argv, env, f"dumping {name}", watch=path)
    # The dump is its own snapshot (--single-transaction): count the rows it holds.
    return _dumped_rows(path)


async def restore_postgresql(copy: Path, url: str, name: str) -> None:
    """pg_restore the dump `copy` into the database at `url`, replacing what it holds."""
    options, env = _pg_options(make_url(url))
    argv = [
        tool("pg_restore"),
        "--clean",
        "--if-exists",
        "--no-owner",
        "--single-transaction",
        *options,
        str(copy),
    ]
    await _run(argv, env, f"restoring {name}")


async def restore_mysql(copy: Path, url: str, name: str) -> None:
    """Load the dump `copy` into the database at `url` with the mariadb client."""
    options, env = _mysql_options(make_url(url))
    await _run([tool(*LOAD_TOOLS["mysql"]), *options], env, f"restoring {name}", feed=copy)


async def server_rows(url: str) -> dict[str, int]:
    """Rows per table in the database at `url`."""
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            return await _count_rows(connection)
    finally:
        await engine.dispose()


async def _count_rows(connection: AsyncConnection) -> dict[str, int]:
    """Rows per table of the default schema (PostgreSQL `public`, the MariaDB database)."""
    names = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
    return {
        name: int(await connection.scalar(select(func.count()).select_from(table(name))) or 0)
        for name in sorted(names)
    }


_INSERT = re.compile(rb"INSERT INTO `((?:[^`]|``)+)` VALUES")
_CREATE = re.compile(rb"CREATE TABLE `((?:[^`]|``)+)`")
_STRING = re.compile(rb"'[^'\\]*(?:\\.[^'\\]*)*'")
#: A trigger's `DEFINER=user@host`: restoring it as another user needs the SUPER privilege, so
#: it is left out and the restoring user becomes the definer (as pg_restore --no-owner does).
_DEFINER = re.compile(rb"/\*!50017 DEFINER=`(?:[^`]|``)*`@`(?:[^`]|``)*`\*/ ?")


def _dumped_rows(path: Path) -> dict[str, int]:
    """Rows per table in a mariadb-dump file: the tuples of its INSERT statements.

    The dump escapes line breaks inside strings, so a statement's rows are whole lines; with
    strings taken out (and blobs in hex), each row is the one `(` left.
    """
    counts: dict[str, int] = {}
    current: str | None = None
    with path.open("rb") as dump:
        for line in dump:
            if current is None:
                if created := _CREATE.match(line):
                    counts.setdefault(_unquote(created[1]), 0)
                if not (inserted := _INSERT.match(line)):
                    continue
                current, line = _unquote(inserted[1]), line[inserted.end() :]  # noqa: PLW2901
            values = _STRING.sub(b"", line)
            counts[current] = counts.get(current, 0) + values.count(b"(")
            if values.rstrip().endswith(b";"):
                current = None
    return counts


def _unquote(name: bytes) -> str:
    return name.replace(b"``", b"`").decode("utf-8")


def _pg_options(url: URL) -> tuple[list[str], dict[str, str]]:
    """pg_dump / pg_restore options for a URL, and their environment: the password goes in
    PGPASSWORD, never on the command line (where `ps` shows it)."""
    host = url.host or _query(url, "host")
    options = ["--no-password", f"--dbname={_database(url)}"]
    options += [f"--host={host}"] if host else []
    options += [f"--port={url.port}"] if url.port else []
    options += [f"--username={url.username}"] if url.username else []
    env = dict(os.environ)
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    if (ssl := _query(url, "sslmode") or _query(url, "ssl")) in _SSL_MODES:
        env["PGSSLMODE"] = str(ssl)
    return options, env


def _mysql_options(url: URL) -> tuple[list[str], dict[str, str]]:
    """mariadb / mariadb-dump options for a URL (the database last), and their environment:
    the password goes in MYSQL_PWD, never on the command line."""
    options = ["--default-character-set=utf8mb4"]
    if socket := _query(url, "unix_socket"):
        options.append(f"--socket={socket}")
    elif url.host:
        # Like the gateway's driver: TCP even to `localhost`, which the client would take as
        # its Unix socket.
        options += [f"--host={url.host}", "--protocol=TCP"]
    options += [f"--port={url.port}"] if url.port else []
    options += [f"--user={url.username}"] if url.username else []
    env = dict(os.environ)
    if url.password is not None:
        env["MYSQL_PWD"] = str(url.password)
    return [*options, _database(url)], env


def _database(url: URL) -> str:
    if not url.database:
        raise BackupError(
            f"{public(url)} names no database; write it at the end of the URL, e.g. .../govgate."
        )
    return url.database


def _query(url: URL, name: str) -> str | None:
    value = url.query.get(name)
    return value if isinstance(value, str) or value is None else value[-1]


def tool(*names: str) -> str:
    """The path of the first of `names` installed; raises BackupError naming the package."""
    for name in names:
        if found := shutil.which(name):
            return found
    package = _PACKAGES.get(names[0], names[0])
    raise BackupError(
        f"{names[0]} is not installed (or not on PATH); install the {package} "
        f"package (e.g. `apt-get install {package}`), then run again."
    )


async def _run(
    argv: list[str],
    env: Mapping[str, str],
    desc: str,
    *,
    watch: Path | None = None,
    feed: Path | None = None,
) -> None:
    """Run a program with a progress bar: bytes of `watch` written, or of `feed` sent to it."""
    process = await asyncio.create_subprocess_exec(
        *argv,
        env=dict(env),
        stdin=asyncio.subprocess.PIPE if feed else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    stderr = process.stderr
    errors = asyncio.ensure_future(stderr.read()) if stderr is not None else None
    with progress_bar(desc, feed.stat().st_size if feed else None, "B") as bar:
        if feed is not None and process.stdin is not None:
            await _send(feed, process.stdin, bar)
        waiting = asyncio.ensure_future(process.wait())
        while not (await asyncio.wait({waiting}, timeout=0.5))[0]:
            if watch is not None and watch.exists():
                bar.update(watch.stat().st_size - bar.n)
    said = (await errors if errors else b"").decode("utf-8", "replace").strip().splitlines()
    if process.returncode:
        raise BackupError(
            f"{Path(argv[0]).name} failed while {desc} (exit {process.returncode}): "
            f"{' '.join(said[-3:]) or 'no message'}. Check the URL, that the "
            "server is up and that its user may read and create every table."
        )


async def _send(path: Path, stdin: asyncio.StreamWriter, bar: tqdm[NoReturn]) -> None:
    """Feed a dump to the client, with its DEFINER clauses taken out (see `_DEFINER`)."""
    batch = bytearray()
    try:
        with path.open("rb") as source:
            for line in source:
                # Rows are whole lines starting `(` or `INSERT`: only statements start `/*!`.
                batch += _DEFINER.sub(b"", line) if line.startswith(b"/*!") else line
                if len(batch) >= 1 << 20:
                    stdin.write(bytes(batch))
                    await stdin.drain()
                    bar.update(len(batch))
                    batch.clear()
            stdin.write(bytes(batch))
            await stdin.drain()
    except (BrokenPipeError, ConnectionResetError):
        pass  # the program stopped reading: its exit status and message say why
    finally:
        stdin.close()
        with suppress(BrokenPipeError, ConnectionResetError):
            await stdin.wait_closed()
