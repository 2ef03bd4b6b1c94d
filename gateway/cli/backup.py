"""`govgate backup` and `govgate restore` (Art. 20, 27; docs/backup.md).

govgate backup  --to DIR   (--data DIR | --config FILE) [--without-keys] [--replace]
govgate restore --from DIR (--data DIR | --config FILE) [--replace]
    exit 0: restored and every table's rows counted as the manifest says; 1: some differ;
    2: bad input (a damaged backup, a deployment that holds data, a missing program, ...)
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from gateway.backup import BackupError, back_up, restore
from gateway.cli._options import deployment_options, fail

if TYPE_CHECKING:
    from gateway.backup import Part
    from gateway.settings import Settings

__all__ = ["backup_command", "restore_command"]


@click.command("backup")
@deployment_options
@click.option(
    "--to",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="An empty (or new) folder for the backup.",
)
@click.option(
    "--without-keys",
    is_flag=True,
    help="Leave the gateway's private signing keys out (keep them safe elsewhere).",
)
@click.option("--replace", is_flag=True, help="Overwrite an earlier backup in the folder.")
def backup_command(settings: Settings, folder: Path, without_keys: bool, replace: bool) -> None:
    """Copy every source, the audit store and the policy into a folder, consistently, while the
    gateway keeps serving.

    SQLite is copied with its online backup API, PostgreSQL with pg_dump and MariaDB with
    mariadb-dump; manifest.json lists every file with its SHA-256 and each table's rows. The
    backup holds personal data and, unless --without-keys, the gateway's private keys: keep it
    where only operators can read it, and copy it off site (Art. 27).
    """
    try:
        manifest = asyncio.run(back_up(settings, folder, keys=not without_keys, replace=replace))
    except BackupError as error:
        fail(str(error))
    for part in manifest.parts:
        click.echo(f"{part.name:24} {part.kind:10} {_contents(part):>30}  -> {_stored(part)}")
    keys = any(part.name == "keys" for part in manifest.parts)
    click.echo(f"backup written to {folder} ({folder / 'manifest.json'} lists every file).")
    if keys:
        click.echo(
            "It holds the gateway's private signing keys: keep it where only operators "
            "can read it.",
            err=True,
        )


@click.command("restore")
@deployment_options
@click.option(
    "--from",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="The folder `govgate backup --to` wrote.",
)
@click.option(
    "--replace",
    is_flag=True,
    help="Overwrite databases and policy files that already hold data.",
)
def restore_command(settings: Settings, folder: Path, replace: bool) -> None:
    """Put a backup back into the deployment. Stop the gateway (every worker) first.

    A running gateway would go on serving from, and writing its audit log to, the files and
    tables being replaced. Every file is checked against the manifest's SHA-256 before
    anything is written; a deployment that already holds data is refused without --replace.
    PostgreSQL and MariaDB databases must exist (empty is fine). Afterwards each table's rows
    are counted: exit 1 if any differ from the manifest, 2 for bad input.
    """
    if not folder.is_dir():
        fail(f"{folder} is not a folder; pass the folder `govgate backup --to` wrote.")
    try:
        restored = asyncio.run(restore(settings, folder, replace=replace))
    except BackupError as error:
        fail(str(error))
    problems = [problem for done in restored for problem in done.mismatches]
    for done in restored:
        click.echo(
            f"{done.part.name:24} {done.part.kind:10} {_contents(done.part):>30}  -> {done.target}"
        )
    if problems:
        for problem in problems:
            click.echo(f"error: {problem}", err=True)
        click.echo(
            "The restored data differs from the backup: do not start the gateway on "
            "it; restore again with --replace, or from another backup.",
            err=True,
        )
        sys.exit(1)
    click.echo(f"restored from {folder}: every table holds the rows the manifest lists.")


def _stored(part: Part) -> str:
    if len(part.files) == 1:
        return part.files[0].file
    return part.files[0].file.split("/")[0] + "/" if part.files else "(no files)"


def _contents(part: Part) -> str:
    if part.kind == "files":
        return f"{len(part.files)} file{'s' if len(part.files) != 1 else ''}"
    tables = len(part.tables)
    return f"{tables} table{'s' if tables != 1 else ''}, {sum(part.tables.values()):,} rows"
