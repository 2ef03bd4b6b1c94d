"""SQLite files: an online copy inside one read snapshot, restore by atomic replacement."""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from pathlib import Path

from gateway.backup._disk import fsync
from gateway.backup._progress import page_progress, progress_bar
from gateway.backup.errors import BackupError

__all__ = ["copy_sqlite", "restore_sqlite", "sqlite_rows"]

#: SQLite pages copied per step of the online backup (the progress bar moves per step).
_PAGES_PER_STEP = 1024


def copy_sqlite(source: Path, copy: Path) -> dict[str, int]:
    """Copy the live database `source` to `copy`; the rows per table of the copy."""
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
        with progress_bar(f"backing up {source.name}", None, "pages") as bar:
            live.backup(target, pages=_PAGES_PER_STEP, progress=page_progress(bar))
        live.execute("ROLLBACK")
        target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
    return sqlite_rows(copy)


def restore_sqlite(copy: Path, target: Path) -> None:
    """Replace the database `target` with the backup's `copy`, whole or not at all."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.restoring")
    partial.unlink(missing_ok=True)
    with (
        closing(sqlite3.connect(_read_only(copy), uri=True)) as source,
        closing(sqlite3.connect(partial)) as fresh,
        progress_bar(f"restoring {target.name}", None, "pages") as bar,
    ):
        source.backup(fresh, pages=_PAGES_PER_STEP, progress=page_progress(bar))
    fsync(partial)
    for suffix in ("-wal", "-shm", "-journal"):
        # Left beside the new file, the old database's journal would be replayed into it.
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    os.replace(partial, target)
    fsync(target.parent)


def sqlite_rows(path: Path, *, immutable: bool = True) -> dict[str, int]:
    """Rows per table; `immutable` for a copy in a backup, which nothing else writes."""
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


def _read_only(path: Path) -> str:
    # immutable: nothing else writes the file, so SQLite leaves no -wal/-shm beside it.
    return path.absolute().as_uri() + "?mode=ro&immutable=1"
