"""Back up and restore a deployment (Art. 20, 27): every source, the audit store, the policy.

A backup is one folder, checkable by anyone with `manifest.json` and `sha256sum`:

    manifest.json              govgate version, time (UTC) and, per part: kind, files with
                               their SHA-256, rows per table, the URL without its password
    databases/<part>.db        SQLite: the online backup API, inside one read snapshot
    databases/<part>.pgdump    PostgreSQL: pg_dump --format=custom of the snapshot counted
    databases/<part>.sql       MariaDB / MySQL: mariadb-dump --single-transaction
    policy/catalog.*, rules.*  the sharing catalogue and the author rules
    keys/                      the gateway's private signing keys (unless left out)

A part is one database or one set of policy files; roles that share a database (say persons
and the audit store on one PostgreSQL database) are one part, named `persons+audit`. The
manifest is written last: a folder without one is not a finished backup. Errors:

GatewayError
└── BackupError   (the backup or restore cannot go on; the message says what to do)
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import shutil
import sqlite3
import sys
from collections import Counter
from contextlib import closing, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Literal, NoReturn, get_args

from sqlalchemy import func, inspect, select, table, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool
from tqdm import tqdm

from gateway.errors import GatewayError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from sqlalchemy.ext.asyncio import AsyncConnection

    from gateway.settings import Settings

__all__ = [
    "MANIFEST",
    "BackupError",
    "Kind",
    "Manifest",
    "Part",
    "Restored",
    "Stored",
    "back_up",
    "check_files",
    "read_manifest",
    "restore",
]

Kind = Literal["sqlite", "postgresql", "mysql", "files"]
MANIFEST = "manifest.json"
_FORMAT = "govgate-backup-v1"
#: Everything a backup writes; `--replace` removes these and refuses a folder holding more.
_LAYOUT = frozenset({MANIFEST, "databases", "policy", "keys"})
_STORED_NAME = re.compile(r"(databases|policy|keys)/[^/\\]+")
_SUFFIX = {"sqlite": ".db", "postgresql": ".pgdump", "mysql": ".sql"}
#: SQLite pages copied per step of the online backup (the progress bar moves per step).
_PAGES_PER_STEP = 1024
_DUMP_TOOLS = {"postgresql": ("pg_dump",), "mysql": ("mariadb-dump", "mysqldump")}
_LOAD_TOOLS = {"postgresql": ("pg_restore",), "mysql": ("mariadb", "mysql")}
_PACKAGES = {
    "pg_dump": "postgresql-client",
    "pg_restore": "postgresql-client",
    "mariadb-dump": "mariadb-client",
    "mariadb": "mariadb-client",
}
_SSL_MODES = {"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}


class BackupError(GatewayError):
    """A backup or restore cannot go on; the message says what to do."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Stored:
    """One file of a backup: its path in the backup folder, SHA-256 and size."""

    file: str
    sha256: str
    bytes: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Part:
    """One database or set of policy files, as the manifest records it.

    `serves` names the roles a database plays (source names, `audit`); `location` is the
    database URL without its password, or the policy file's or keys folder's path.
    """

    name: str
    kind: Kind
    files: tuple[Stored, ...]
    location: str
    serves: tuple[str, ...] = ()
    tables: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class Manifest:
    """What a backup holds: `manifest.json`."""

    version: str
    created_at: str
    parts: tuple[Part, ...]

    def to_json(self) -> dict[str, Any]:
        """The manifest as written to `manifest.json`."""
        return {
            "format": _FORMAT,
            "govgate": self.version,
            "created_at": self.created_at,
            "parts": [_part_json(part) for part in self.parts],
        }


@dataclass(frozen=True, slots=True)
class Restored:
    """One part put back into one target, and the rows per table found there afterwards."""

    part: Part
    target: str
    found: Mapping[str, int]

    @property
    def mismatches(self) -> list[str]:
        """Each table whose restored row count differs from the manifest's, as a sentence."""
        return [
            f"{self.part.name}: table {name} should hold {expected:,} rows but {self.target} "
            + ("has no such table" if name not in self.found else f"holds {self.found[name]:,}")
            for name, expected in self.part.tables.items()
            if self.found.get(name) != expected
        ]


# -- back up ----------------------------------------------------------------------------------


async def back_up(
    settings: Settings, folder: Path, *, keys: bool = True, replace: bool = False
) -> Manifest:
    """Copy every database and policy file of `settings` into `folder`; the manifest written.

    `replace` overwrites an earlier backup in `folder`; `keys=False` leaves the private keys out.
    """
    databases = _databases(settings)
    for kind in {_kind(url) for url, _ in databases} & set(_DUMP_TOOLS):
        _tool(*_DUMP_TOOLS[kind])  # a missing program fails before anything is written
    _prepare(folder, replace=replace)
    try:
        parts = [await _back_up_database(url, serves, folder) for url, serves in databases]
        parts += _back_up_policy(settings, folder, keys=keys)
    except BackupError as error:
        raise BackupError(f"{error} The unfinished backup in {folder} has no manifest: once "
                          "fixed, run again with --replace.") from None  # fmt: skip
    created = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    manifest = Manifest(version=version("govgate"), created_at=created, parts=tuple(parts))
    document = json.dumps(manifest.to_json(), indent=2, ensure_ascii=False) + "\n"
    _write_durably(folder / MANIFEST, document.encode("utf-8"))
    return manifest


def _databases(settings: Settings) -> list[tuple[str, tuple[str, ...]]]:
    """Each distinct database of the deployment with the roles it serves, in settings order."""
    roles: dict[str, list[str]] = {}
    urls: dict[str, str] = {}
    for role, url in {**settings.sources, "audit": settings.audit_url}.items():
        roles.setdefault(_identity(url), []).append(role)
        urls.setdefault(_identity(url), url)
    return [(urls[key], tuple(serves)) for key, serves in roles.items()]


def _prepare(folder: Path, *, replace: bool) -> None:
    if folder.exists() and not folder.is_dir():
        raise BackupError(f"{folder} is a file; pass a folder for the backup with --to.")
    present = sorted(entry.name for entry in folder.iterdir()) if folder.exists() else []
    if present and not replace:
        raise BackupError(
            f"{folder} is not empty; pass --replace to overwrite the backup in "
            "it, or back up into a new or empty folder."
        )
    foreign = [name for name in present if name not in _LAYOUT]
    if foreign:
        raise BackupError(
            f"{folder} holds files a backup does not write ({', '.join(foreign[:5])}); "
            "--replace only overwrites an earlier backup: back up into an empty folder."
        )
    # The manifest goes first: a backup half replaced must not look finished.
    (folder / MANIFEST).unlink(missing_ok=True)
    for name in set(present) - {MANIFEST}:
        _remove(folder / name)
    # The backup holds private keys and personal data: its owner alone may read it.
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    (folder / "databases").mkdir(mode=0o700)


async def _back_up_database(url: str, serves: tuple[str, ...], folder: Path) -> Part:
    kind, name = _kind(url), "+".join(serves)
    stored = f"databases/{name}{_SUFFIX[kind]}"
    path = folder / stored
    try:
        if kind == "sqlite":
            tables = await asyncio.to_thread(_copy_sqlite, _sqlite_file(url), path)
        elif kind == "postgresql":
            tables = await _dump_postgresql(url, path, name)
        else:
            tables = await _dump_mysql(url, path, name)
    except (SQLAlchemyError, sqlite3.Error, OSError) as error:
        raise BackupError(
            f"Cannot back up {name} at {_public(url)}: {_reason(error)}; check "
            "that the database is up and its user may read every table."
        ) from None
    return Part(
        name=name,
        kind=kind,
        serves=serves,
        location=_public(url),
        tables=tables,
        files=(_stored(folder, stored),),
    )


def _copy_sqlite(source: Path, copy: Path) -> dict[str, int]:
    if not source.is_file():
        raise BackupError(
            f"There is no SQLite database at {source}; check --data, or the URL in --config."
        )
    with (
        closing(sqlite3.connect(source, isolation_level=None)) as live,
        closing(sqlite3.connect(copy)) as target,
    ):
        # One read transaction for the whole copy: the copy is that snapshot while the gateway
        # goes on writing (WAL). Without it SQLite restarts the copy each time another
        # connection writes, and a busy audit log could keep it from ever finishing.
        live.execute("BEGIN")
        live.execute("SELECT count(*) FROM sqlite_master").fetchone()
        with _bar(f"backing up {source.name}", None, "pages") as bar:
            live.backup(target, pages=_PAGES_PER_STEP, progress=_pages(bar))
        live.execute("ROLLBACK")
        target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
    return _sqlite_rows(copy)


async def _dump_postgresql(url: str, path: Path, name: str) -> dict[str, int]:
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
                _tool("pg_dump"),
                "--format=custom",
                f"--snapshot={exported}",
                f"--file={path}",
                *options,
            ]
            await _run(argv, env, f"dumping {name}", watch=path)
    finally:
        await engine.dispose()
    return tables


async def _dump_mysql(url: str, path: Path, name: str) -> dict[str, int]:
    options, env = _mysql_options(make_url(url))
    argv = [
        _tool(*_DUMP_TOOLS["mysql"]),
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


def _back_up_policy(settings: Settings, folder: Path, *, keys: bool) -> list[Part]:
    parts = [
        _copy_files(
            "catalog",
            settings.catalog,
            {f"policy/catalog{settings.catalog.suffix}": settings.catalog},
            folder,
        )
    ]
    if settings.rules is not None:
        files = {f"policy/rules{settings.rules.suffix}": settings.rules}
        parts.append(_copy_files("rules", settings.rules, files, folder))
    if keys and settings.signing_keys.is_dir():
        found = sorted(settings.signing_keys.iterdir())
        files = {f"keys/{p.name}": p for p in found if p.is_file() and not p.name.startswith(".")}
        parts.append(_copy_files("keys", settings.signing_keys, files, folder))
    return parts


def _copy_files(name: str, location: Path, files: Mapping[str, Path], folder: Path) -> Part:
    for stored, source in files.items():
        target = folder / stored
        target.parent.mkdir(mode=0o700, exist_ok=True)
        try:
            shutil.copyfile(source, target)
        except OSError as error:
            raise BackupError(
                f"Cannot copy the {name} file {source}: {error.strerror}; check "
                "the path in --config and that it may be read."
            ) from None
        target.chmod(0o600)
    return Part(
        name=name,
        kind="files",
        location=str(location),
        files=tuple(_stored(folder, stored) for stored in files),
    )


# -- restore ----------------------------------------------------------------------------------


async def restore(settings: Settings, folder: Path, *, replace: bool = False) -> list[Restored]:
    """Check every file of the backup in `folder`, then put each part back into `settings`.

    Refuses a damaged backup before writing anything, and a deployment that holds data unless
    `replace`. Returns each part's rows per table as found after the restore.
    """
    manifest = read_manifest(folder)
    check_files(folder, manifest)
    steps = _plan(settings, manifest)
    if not replace:
        held = [found for part, target in steps if (found := await _held(part, target))]
        if held:
            raise BackupError(
                f"The deployment already holds data: {'; '.join(held)}. Stop the "
                "gateway and pass --replace to overwrite it, or restore into an "
                "empty deployment."
            )
    for part, target in steps:
        await _put_back(folder, part, target)
    try:
        return [Restored(part, _shown(part, target), await _rows_at(part, target))
                for part, target in steps]  # fmt: skip
    except (SQLAlchemyError, sqlite3.Error, OSError) as error:
        raise BackupError(
            f"Restored, but cannot count the rows to check them: {_reason(error)}; check that "
            "the databases are up, then restore again."
        ) from None


def read_manifest(folder: Path) -> Manifest:
    """The manifest of the backup in `folder`; raises BackupError if missing or damaged."""
    path = folder / MANIFEST
    try:
        document = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise BackupError(
            f"{folder} holds no {MANIFEST}: it is not a govgate backup, or the "
            "backup did not finish. Pass a folder `govgate backup --to` wrote."
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BackupError(
            f"{path} cannot be read ({error}); restore from another backup."
        ) from None
    try:
        if document.get("format") != _FORMAT:
            raise ValueError(f"its format is {document.get('format')!r}, not {_FORMAT}")
        parts = tuple(_parse_part(item) for item in document["parts"])
        return Manifest(
            version=str(document["govgate"]), created_at=str(document["created_at"]), parts=parts
        )
    except (AttributeError, KeyError, TypeError, ValueError) as error:
        raise BackupError(f"{path} is damaged ({error!s}); restore from another backup.") from None


def check_files(folder: Path, manifest: Manifest) -> None:
    """Check every file against the manifest's SHA-256; raises BackupError naming the first bad."""
    stored = [item for part in manifest.parts for item in part.files]
    with _bar("checking the backup", sum(item.bytes for item in stored), "B") as bar:
        for item in stored:
            path = folder / item.file
            if not path.is_file():
                raise BackupError(
                    f"{item.file} is missing from the backup in {folder}: it is "
                    "incomplete. Nothing was restored; use another backup."
                )
            if _sha256(path, bar) != item.sha256:
                raise BackupError(
                    f"{item.file} in {folder} is damaged: its SHA-256 differs "
                    "from the manifest's. Nothing was restored; restore from "
                    "another backup, or from its off-site copy."
                )


def _plan(settings: Settings, manifest: Manifest) -> list[tuple[Part, str]]:
    """(part, target) pairs: a database URL, or the path of a policy file or keys folder."""
    steps: list[tuple[Part, str]] = []
    for part in manifest.parts:
        if part.kind == "files":
            steps.append((part, str(_files_target(settings, part))))
            continue
        targets = {_identity(url): url for url in (_role_url(settings, r) for r in part.serves)}
        for url in targets.values():
            if _kind(url) != part.kind:
                raise BackupError(
                    f"The backup holds {part.name} as a {part.kind} database but "
                    f"the deployment has it on {_kind(url)} ({_public(url)}); "
                    "restore into a deployment with the same kinds of "
                    "database."
                )
            steps.append((part, url))
    files = Counter(_identity(target) for part, target in steps if part.kind == "sqlite")
    if shared := [path for path, n in files.items() if n > 1]:
        raise BackupError(
            f"Several parts of the backup would be restored into {shared[0]}; "
            "give each source its own SQLite file in the deployment."
        )
    for kind in {part.kind for part, _ in steps} - {"sqlite", "files"}:
        _tool(*_LOAD_TOOLS[kind])
    return steps


def _files_target(settings: Settings, part: Part) -> Path:
    if part.name == "catalog":
        return settings.catalog
    if part.name == "keys":
        return settings.signing_keys
    if part.name == "rules" and settings.rules is not None:
        return settings.rules
    if part.name == "rules":
        raise BackupError(
            "The backup holds author rules but the deployment names no rules "
            "file; set [policy] rules in the --config file, then restore."
        )
    raise BackupError(f"The manifest names an unknown part {part.name!r}; use another backup.")


def _role_url(settings: Settings, role: str) -> str:
    if role == "audit":
        return settings.audit_url
    if role not in settings.sources:
        raise BackupError(
            f"The backup holds a source {role!r} the deployment does not have; "
            "restore with the deployment the backup was taken from."
        )
    return settings.sources[role]


async def _held(part: Part, target: str) -> str | None:
    """What the target already holds that the restore would overwrite, in words, or None."""
    if part.kind == "files":
        changed = [
            str(path)
            for item in part.files
            if (path := _file_target(part, item, Path(target))).exists()
            and _sha256(path) != item.sha256
        ]
        return ", ".join(changed) + " (differ from the backup)" if changed else None
    try:
        rows = await _rows_at(part, target)
    except (SQLAlchemyError, sqlite3.Error, OSError) as error:
        raise BackupError(
            f"Cannot read {_public(target)} to restore {part.name} into it: "
            f"{_reason(error)}; check that the database exists and is up."
        ) from None
    held = sum(rows.values())
    return f"{_shown(part, target)} ({held:,} rows)" if held else None


async def _put_back(folder: Path, part: Part, target: str) -> None:
    copy = folder / part.files[0].file
    try:
        if part.kind == "files":
            _restore_files(folder, part, Path(target))
        elif part.kind == "sqlite":
            await asyncio.to_thread(_restore_sqlite, copy, _sqlite_file(target))
        elif part.kind == "postgresql":
            options, env = _pg_options(make_url(target))
            argv = [
                _tool("pg_restore"),
                "--clean",
                "--if-exists",
                "--no-owner",
                "--single-transaction",
                *options,
                str(copy),
            ]
            await _run(argv, env, f"restoring {part.name}")
        else:
            options, env = _mysql_options(make_url(target))
            await _run(
                [_tool(*_LOAD_TOOLS["mysql"]), *options], env, f"restoring {part.name}", feed=copy
            )
    except (sqlite3.Error, OSError) as error:
        raise BackupError(
            f"Cannot restore {part.name} into {_shown(part, target)}: "
            f"{_reason(error)}; check that it may be written."
        ) from None


def _restore_sqlite(copy: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.restoring")
    partial.unlink(missing_ok=True)
    with (
        closing(sqlite3.connect(_read_only(copy), uri=True)) as source,
        closing(sqlite3.connect(partial)) as fresh,
        _bar(f"restoring {target.name}", None, "pages") as bar,
    ):
        source.backup(fresh, pages=_PAGES_PER_STEP, progress=_pages(bar))
    _fsync(partial)
    for suffix in ("-wal", "-shm", "-journal"):
        # Left beside the new file, the old database's journal would be replayed into it.
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    os.replace(partial, target)
    _fsync(target.parent)


def _restore_files(folder: Path, part: Part, target: Path) -> None:
    for item in part.files:
        path = _file_target(part, item, target)
        if path.exists() and _sha256(path) == item.sha256:
            continue
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.restoring")
        shutil.copyfile(folder / item.file, partial)
        if part.name == "keys":
            partial.chmod(0o600)  # private keys: the gateway's user alone reads them
        os.replace(partial, path)


def _file_target(part: Part, item: Stored, target: Path) -> Path:
    return target / PurePosixPath(item.file).name if part.name == "keys" else target


async def _rows_at(part: Part, target: str) -> dict[str, int]:
    """Rows per table in a restored (or about to be overwritten) database; {} for files."""
    if part.kind == "files":
        return {}
    if part.kind == "sqlite":
        path = _sqlite_file(target)
        return _sqlite_rows(path, immutable=False) if path.exists() else {}
    engine = create_async_engine(target, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            return await _count_rows(connection)
    finally:
        await engine.dispose()


# -- databases --------------------------------------------------------------------------------


def _kind(url: str) -> Kind:
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite" and parsed.database not in (None, "", ":memory:"):
        return "sqlite"
    if backend == "postgresql":
        return "postgresql"
    if backend in {"mysql", "mariadb"}:
        return "mysql"
    raise BackupError(
        f"govgate cannot back up {_public(url)}: it backs up SQLite files, "
        "PostgreSQL and MariaDB/MySQL databases."
    )


def _identity(url: str) -> str:
    """The same database, however its URL is spelled (driver, relative path, password)."""
    if _kind(url) == "sqlite":
        return str(_sqlite_file(url).resolve())
    parsed = make_url(url)
    return _public(parsed.set(drivername=parsed.get_backend_name()))


def _public(url: str | URL) -> str:
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


def _shown(part: Part, target: str) -> str:
    """A restore target in words: a path, or a URL without its password."""
    if part.kind == "files":
        return target
    return str(_sqlite_file(target)) if part.kind == "sqlite" else _public(target)


def _sqlite_file(url: str) -> Path:
    return Path(make_url(url).database or "")


def _read_only(path: Path) -> str:
    # immutable: nothing else writes the file, so SQLite leaves no -wal/-shm beside it.
    return path.absolute().as_uri() + "?mode=ro&immutable=1"


def _sqlite_rows(path: Path, *, immutable: bool = True) -> dict[str, int]:
    uri = _read_only(path) if immutable else path.absolute().as_uri() + "?mode=ro"
    with closing(sqlite3.connect(uri, uri=True)) as db:
        names = [
            row[0]
            for row in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
                "ORDER BY name"
            )
        ]
        quoted = {name: '"' + name.replace('"', '""') + '"' for name in names}
        # The names come from the database's own catalogue, quoted as identifiers.
        return {
            name: int(db.execute(f"SELECT count(*) FROM {quoted[name]}").fetchone()[0])  # noqa: S608
            for name in names
        }


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
            f"{_public(url)} names no database; write it at the end of the URL, e.g. .../govgate."
        )
    return url.database


def _query(url: URL, name: str) -> str | None:
    value = url.query.get(name)
    return value if isinstance(value, str) or value is None else value[-1]


# -- programs, files, progress ----------------------------------------------------------------


def _tool(*names: str) -> str:
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
    with _bar(desc, feed.stat().st_size if feed else None, "B") as bar:
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


def _stored(folder: Path, name: str) -> Stored:
    path = folder / name
    path.chmod(0o600)  # personal data, private keys: the backup's owner alone reads them
    _fsync(path)
    return Stored(file=name, sha256=_sha256(path), bytes=path.stat().st_size)


def _sha256(path: Path, bar: tqdm[NoReturn] | None = None) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while chunk := source.read(1 << 20):
            digest.update(chunk)
            if bar is not None:
                bar.update(len(chunk))
    return digest.hexdigest()


def _write_durably(path: Path, data: bytes) -> None:
    partial = path.with_name(f"{path.name}.partial")
    partial.write_bytes(data)
    _fsync(partial)
    os.replace(partial, path)
    _fsync(path.parent)


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def _reason(error: BaseException) -> str:
    cause = getattr(error, "orig", None) or error
    return (str(cause).strip().splitlines() or [type(cause).__name__])[0]


def _bar(desc: str, total: int | None, unit: str) -> tqdm[NoReturn]:
    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        unit_scale=unit == "B",
        file=sys.stderr,
        disable=None,
        mininterval=0.5,
        leave=False,
    )


def _pages(bar: tqdm[NoReturn]) -> Callable[[int, int, int], None]:
    def report(_status: int, remaining: int, total: int) -> None:
        bar.total = total
        bar.update(total - remaining - bar.n)

    return report


# -- the manifest -----------------------------------------------------------------------------


def _part_json(part: Part) -> dict[str, Any]:
    described: dict[str, Any] = {"name": part.name, "kind": part.kind}
    if part.kind == "files":
        described["path"] = part.location
    else:
        described |= {"serves": list(part.serves), "url": part.location}
        described["tables"] = dict(part.tables)
    described["files"] = [
        {"file": s.file, "sha256": s.sha256, "bytes": s.bytes} for s in part.files
    ]
    return described


def _parse_part(item: Mapping[str, Any]) -> Part:
    kind = item["kind"]
    if kind not in get_args(Kind):
        raise ValueError(f"part {item.get('name')!r} has an unknown kind {kind!r}")
    files = tuple(_parse_stored(entry) for entry in item["files"])
    if kind != "files" and len(files) != 1:
        raise ValueError(f"database part {item['name']!r} must have exactly one file")
    return Part(
        name=str(item["name"]),
        kind=kind,
        files=files,
        location=str(item.get("url") or item.get("path") or ""),
        serves=tuple(str(role) for role in item.get("serves", ())),
        tables={str(k): int(v) for k, v in item.get("tables", {}).items()},
    )


def _parse_stored(entry: Mapping[str, Any]) -> Stored:
    name = str(entry["file"])
    if not _STORED_NAME.fullmatch(name) or ".." in name:
        raise ValueError(f"{name!r} is not a file a backup writes")
    return Stored(file=name, sha256=str(entry["sha256"]), bytes=int(entry["bytes"]))
