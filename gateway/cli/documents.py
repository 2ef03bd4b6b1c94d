"""`govgate documents`: approve, list and revoke an agency's trusted documents.

The platform administrator approves each operation an agency's application may run (the X-Road
"service" model); an agency named in `[documents] require_registered` runs nothing else. Every
running gateway process follows the log (gateway.documents): an approval or revocation takes
effect at once on PostgreSQL (LISTEN/NOTIFY) and within a second on SQLite.
"""

from __future__ import annotations

import asyncio
import getpass
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from gateway.cli._options import deployment_options, fail

if TYPE_CHECKING:
    from collections.abc import Coroutine

    from gateway.documents import DocumentRow, DocumentStore, Status
    from gateway.settings import Settings

__all__ = ["documents_group"]

T = TypeVar("T")


@click.group("documents")
def documents_group() -> None:
    """Trusted documents (persisted queries): approve, list, revoke."""


_agency = click.option("--agency", required=True, help="The agency's code, e.g. GZ-PSB.")
_note = click.option("--note", default=None, help="Why, for the record (e.g. a ticket number).")
_by = click.option(
    "--by", default=None, help="Who decides, for the record. Default: the user and host."
)


@documents_group.command("approve")
@_agency
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_note
@_by
@deployment_options
def approve_command(
    settings: Settings, agency: str, file: Path, note: str | None, by: str | None
) -> None:
    """Approve the GraphQL document in FILE for an agency; prints its SHA-256.

    The hash is of the file's exact text (UTF-8): the application sends that text, or its hash
    as extensions.persistedQuery.sha256Hash.
    """
    query = _read_document(file)
    _check_agency(settings, agency)
    row = _run(_write(settings, query=query, agency=agency, status="approved", note=note, by=by))
    click.echo(row.sha256)
    click.echo(f"approved for {agency}: every gateway process runs it by this hash within a "
               "second (at once on PostgreSQL).", err=True)  # fmt: skip


@documents_group.command("revoke")
@click.argument("sha256")
@_agency
@_note
@_by
@deployment_options
def revoke_command(
    settings: Settings, sha256: str, agency: str, note: str | None, by: str | None
) -> None:
    """Revoke document SHA256 for an agency: refused from then on where it must be approved,
    and no longer found by its hash."""
    sha256 = sha256.strip().lower()
    rows = _run(_current(settings, agency))
    row = next((r for r in rows if r.sha256 == sha256), None)
    if row is None:
        fail(f"no document {sha256} is registered for {agency}; `govgate documents list "
             f"--agency {agency}` shows its documents.")  # fmt: skip
    if row.status == "revoked":
        fail(f"document {sha256} was revoked for {agency} already ({row.decided_at}).", code=1)
    _run(_write(settings, query=row.query, agency=agency, status="revoked", note=note, by=by))
    click.echo(f"revoked {sha256} for {agency}: every gateway process refuses it within a "
               "second (at once on PostgreSQL).")  # fmt: skip


@documents_group.command("list")
@click.option("--agency", default=None, help="Only this agency's documents.")
@deployment_options
def list_command(settings: Settings, agency: str | None) -> None:
    """Each document's state: hash, agency, status, when, by whom, note, operation."""
    for row in _run(_current(settings, agency)):
        first = next((line.strip() for line in row.query.splitlines() if line.strip()), "")
        click.echo("\t".join([row.sha256, row.agency, row.status, row.decided_at,
                              row.decided_by, row.note or "", first[:60]]))  # fmt: skip


def _read_document(file: Path) -> str:
    from graphql import GraphQLSyntaxError, parse  # noqa: PLC0415

    try:
        query = file.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        fail(f"{file} cannot be read as UTF-8 text: {error}")
    try:
        parse(query)
    except GraphQLSyntaxError as error:
        fail(f"{file} is not a GraphQL document: {error.message}")
    return query


def _check_agency(settings: Settings, agency: str) -> None:
    from policies.catalog import load_catalog  # noqa: PLC0415
    from policies.errors import PolicyError  # noqa: PLC0415

    try:
        catalog = load_catalog(settings.catalog)
    except PolicyError as error:
        fail(f"the catalogue cannot be read: {error}")
    codes = {a.code for a in catalog.agencies}
    if agency not in codes:
        fail(
            f"{agency} is not an agency of the catalogue; give one of: {', '.join(sorted(codes))}."
        )


def _run(work: Coroutine[Any, Any, T]) -> T:
    from gateway.documents import DocumentStoreError  # noqa: PLC0415

    try:
        return asyncio.run(work)
    except DocumentStoreError as error:
        fail(str(error), code=1)
    except (OSError, TimeoutError) as error:
        fail(f"cannot reach the gateway's database ({error}); check [audit] url.", code=1)


async def _open(settings: Settings) -> DocumentStore:
    from gateway.documents import DocumentStore  # noqa: PLC0415
    from sources.engines import make_engine  # noqa: PLC0415

    store = DocumentStore(make_engine(settings.audit_url))
    await store.create()
    return store


async def _write(
    settings: Settings, *, query: str, agency: str, status: Status, note: str | None,
    by: str | None,
) -> DocumentRow:  # fmt: skip
    store = await _open(settings)
    try:
        return await store.add(
            query=query, agency=agency, status=status, note=note,
            decided_by=by or f"{getpass.getuser()}@{socket.gethostname()}",
            decided_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        )  # fmt: skip
    finally:
        await store.engine.dispose()


async def _current(settings: Settings, agency: str | None) -> list[DocumentRow]:
    store = await _open(settings)
    try:
        return await store.current(agency)
    finally:
        await store.engine.dispose()
