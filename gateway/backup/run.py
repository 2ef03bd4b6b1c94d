"""`back_up` and `restore`: every part of a deployment, copied out or put back and counted."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError

from gateway.backup._disk import remove
from gateway.backup.errors import BackupError
from gateway.backup.files import back_up_policy, file_target, restore_files
from gateway.backup.manifest import (
    MANIFEST,
    Manifest,
    Part,
    Restored,
    check_files,
    read_manifest,
    sha256,
    stored,
    write_manifest,
)
from gateway.backup.plan import databases, restore_steps
from gateway.backup.servers import (
    DUMP_TOOLS,
    dump_mysql,
    dump_postgresql,
    restore_mysql,
    restore_postgresql,
    server_rows,
    tool,
)
from gateway.backup.sqlite import copy_sqlite, restore_sqlite, sqlite_rows
from gateway.backup.urls import kind_of, public, sqlite_file

if TYPE_CHECKING:
    from gateway.settings import Settings

__all__ = ["back_up", "restore"]

#: Everything a backup writes; `--replace` removes these and refuses a folder holding more.
_LAYOUT = frozenset({MANIFEST, "databases", "policy", "keys"})
_SUFFIX = {"sqlite": ".db", "postgresql": ".pgdump", "mysql": ".sql"}


async def back_up(
    settings: Settings, folder: Path, *, keys: bool = True, replace: bool = False
) -> Manifest:
    """Copy every database and policy file of `settings` into `folder`; the manifest written.

    `replace` overwrites an earlier backup in `folder`; `keys=False` leaves the private keys out.
    """
    found = databases(settings)
    for kind in {kind_of(url) for url, _ in found} & set(DUMP_TOOLS):
        tool(*DUMP_TOOLS[kind])  # a missing program fails before anything is written
    _prepare(folder, replace=replace)
    try:
        parts = [await _back_up_database(url, serves, folder) for url, serves in found]
        parts += back_up_policy(settings, folder, keys=keys)
    except BackupError as error:
        raise BackupError(f"{error} The unfinished backup in {folder} has no manifest: once "
                          "fixed, run again with --replace.") from None  # fmt: skip
    created = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    manifest = Manifest(version=version("govgate"), created_at=created, parts=tuple(parts))
    write_manifest(folder, manifest)
    return manifest


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
        remove(folder / name)
    # The backup holds private keys and personal data: its owner alone may read it.
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    (folder / "databases").mkdir(mode=0o700)


async def _back_up_database(url: str, serves: tuple[str, ...], folder: Path) -> Part:
    kind, name = kind_of(url), "+".join(serves)
    name_in_backup = f"databases/{name}{_SUFFIX[kind]}"
    path = folder / name_in_backup
    try:
        if kind == "sqlite":
            tables = await asyncio.to_thread(copy_sqlite, sqlite_file(url), path)
        elif kind == "postgresql":
            tables = await dump_postgresql(url, path, name)
        else:
            tables = await dump_mysql(url, path, name)
    except (SQLAlchemyError, sqlite3.Error, OSError) as error:
        raise BackupError(
            f"Cannot back up {name} at {public(url)}: {_reason(error)}; check "
            "that the database is up and its user may read every table."
        ) from None
    return Part(
        name=name,
        kind=kind,
        serves=serves,
        location=public(url),
        tables=tables,
        files=(stored(folder, name_in_backup),),
    )


async def restore(settings: Settings, folder: Path, *, replace: bool = False) -> list[Restored]:
    """Check every file of the backup in `folder`, then put each part back into `settings`.

    Refuses a damaged backup before writing anything, and a deployment that holds data unless
    `replace`. Returns each part's rows per table as found after the restore.
    """
    manifest = read_manifest(folder)
    check_files(folder, manifest)
    steps = restore_steps(settings, manifest)
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


async def _held(part: Part, target: str) -> str | None:
    """What the target already holds that the restore would overwrite, in words, or None."""
    if part.kind == "files":
        changed = [
            str(path)
            for item in part.files
            if (path := file_target(part, item, Path(target))).exists()
            and sha256(path) != item.sha256
        ]
        return ", ".join(changed) + " (differ from the backup)" if changed else None
    try:
        rows = await _rows_at(part, target)
    except (SQLAlchemyError, sqlite3.Error, OSError) as error:
        raise BackupError(
            f"Cannot read {public(target)} to restore {part.name} into it: "
            f"{_reason(error)}; check that the database exists and is up."
        ) from None
    held = sum(rows.values())
    return f"{_shown(part, target)} ({held:,} rows)" if held else None


async def _put_back(folder: Path, part: Part, target: str) -> None:
    copy = folder / part.files[0].file
    try:
        if part.kind == "files":
            restore_files(folder, part, Path(target))
        elif part.kind == "sqlite":
            await asyncio.to_thread(restore_sqlite, copy, sqlite_file(target))
        elif part.kind == "postgresql":
            await restore_postgresql(copy, target, part.name)
        else:
            await restore_mysql(copy, target, part.name)
    except (sqlite3.Error, OSError) as error:
        raise BackupError(
            f"Cannot restore {part.name} into {_shown(part, target)}: "
            f"{_reason(error)}; check that it may be written."
        ) from None


async def _rows_at(part: Part, target: str) -> dict[str, int]:
    """Rows per table in a restored (or about to be overwritten) database; {} for files."""
    if part.kind == "files":
        return {}
    if part.kind == "sqlite":
        path = sqlite_file(target)
        return sqlite_rows(path, immutable=False) if path.exists() else {}
    return await server_rows(target)


def _shown(part: Part, target: str) -> str:
    """A restore target in words: a path, or a URL without its password."""
    if part.kind == "files":
        return target
    return str(sqlite_file(target)) if part.kind == "sqlite" else public(target)


def _reason(error: BaseException) -> str:
    cause = getattr(error, "orig", None) or error
    return (str(cause).strip().splitlines() or [type(cause).__name__])[0]
