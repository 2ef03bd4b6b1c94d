"""`govgate audit ...`: check the hash chain, export the log (Art. 28, 34).

govgate audit verify  (--data DIR | --config FILE) [--witness W]...  exit 0: intact; 1: the break
govgate audit export  --format jsonl [--from D] [--to D]  one JSON object per record
govgate audit init-roles | init-witness  (gateway.cli.roles): PostgreSQL roles
govgate audit report  (gateway.cli.report): usage by agency, dataset, field, duty, officer
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import click
from sqlalchemy.exc import SQLAlchemyError
from tqdm import tqdm

from gateway.cli._options import deployment_options, fail
from gateway.trust.audit.chains import LEGACY_CHAIN
from gateway.trust.audit.store import AuditStore, SignedHead
from gateway.trust.audit.verify import StoreVerdict, verify_store
from gateway.trust.audit.witness_check import WitnessError, WitnessReport, read_witnesses
from gateway.trust.vouchers import PublicKeyring, VoucherError
from sources.engines import sqlite_path

if TYPE_CHECKING:
    from collections.abc import Mapping

    from gateway.settings import Settings

__all__ = ["audit_group", "day_range"]


@click.group("audit")
def audit_group() -> None:
    """The audit log: verify its hash chain, export it, report on it."""


def audit_store(settings: Settings) -> AuditStore:
    """The deployment's audit store; fails clearly when an SQLite store does not exist yet."""
    path = sqlite_path(settings.audit_url)
    if path is not None and not path.exists():
        fail(f"there is no audit log at {path}: the gateway creates it when it first serves; "
             "check --data or the [audit] url in --config.")  # fmt: skip
    return AuditStore(settings.audit_url)


@audit_group.command("verify")
@deployment_options
@click.option(
    "--keys",
    "keys_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The gateway's public keys as `govgate voucher keys` printed them (default: the "
    "deployment's signing-keys folder).",
)
@click.option(
    "--anchor",
    "anchors",
    multiple=True,
    metavar="SEQ:HASH",
    help="A record the log must still hold, as `govgate audit head` printed it earlier "
    "(repeatable): catches a log cut back to an old, validly signed head.",
)
@click.option(
    "--witness",
    "witnesses",
    multiple=True,
    metavar="URL_OR_FILE",
    help="A witness the gateway publishes its signed heads to: a database URL with a role that "
    "may read audit_witness, or a witness file (repeatable). The log must agree with every "
    "head it holds: catches a log rewritten and signed again with the gateway's own key.",
)
def verify_command(
    settings: Settings,
    keys_file: Path | None,
    anchors: tuple[str, ...],
    witnesses: tuple[str, ...],
) -> None:
    """Check every record and link of the chain and the signed head, and against the heads the
    witnesses hold; name the first record tampered with."""
    wanted = dict(_anchor(text) for text in anchors)
    try:
        keys = (
            PublicKeyring.from_file(keys_file)
            if keys_file
            else PublicKeyring.from_folder(settings.signing_keys)
        )
    except VoucherError as error:
        fail(str(error))
    try:
        report = asyncio.run(read_witnesses(witnesses, keys))
    except WitnessError as error:
        fail(str(error))
    for note in report.notes:
        click.echo(f"warning: {note}", err=True)
    published = len(settings.witnessing.witnesses)
    if not witnesses and published:
        click.echo(f"note: this deployment publishes its head to {published} witness(es); pass "
                   "each with --witness to check the log against them.", err=True)  # fmt: skip
    try:
        verdict = asyncio.run(_verify(audit_store(settings), keys, wanted, report))
    except SQLAlchemyError as error:
        fail(f"cannot read the audit store at {settings.audit_url}: {error.__class__.__name__}; "
             "check the URL and that the database is up.")  # fmt: skip
    problem = verdict.problem
    if problem is None:
        click.echo(f"audit log intact: {verdict.checked:,} records in {verdict.chains} "
                   f"chain(s), {verdict.checkpoints:,} checkpoint(s); chain verified to record "
                   f"{verdict.last_seq}.{_witnessed(report, verdict.last_seq)}")  # fmt: skip
        return
    click.echo(f"audit log TAMPERED: {problem.message}", err=True)
    where = (f"first problem at record {problem.seq}" if problem.last is None
             else f"first problem between records {problem.seq} and {problem.last}")  # fmt: skip
    if verdict.chain is not None and verdict.chains > 1:
        where += f" of chain {verdict.chain}"
    click.echo(f"(checked {verdict.checked:,} records; {where}, kind: {problem.kind})",
               err=True)  # fmt: skip
    sys.exit(1)


def _witnessed(report: WitnessReport, last_seq: int) -> str:
    """What the witnesses confirmed, for the verdict line."""
    if not report.witnesses:
        return ""
    newest = max((head.seq for _, head in report.heads if head.chain != "checkpoint"), default=0)
    if newest == 0:
        return " No witness holds a head to check against."
    tail = (f"; records {newest + 1} to {last_seq} are newer than any witnessed head"
            if last_seq > newest else "")  # fmt: skip
    return (f" It agrees with all {len(report.heads):,} heads from {report.witnesses} "
            f"witness(es), up to record {newest}{tail}.")  # fmt: skip


def _anchor(text: str) -> tuple[tuple[int, int], str]:
    parts = text.split(":")
    if len(parts) == 2:
        parts.insert(0, str(LEGACY_CHAIN))
    chain, seq, digest = parts if len(parts) == 3 else ("", "", "")
    if not (chain.isdigit() and seq.isdigit()) or int(seq) < 1 or len(digest) != 64:
        fail(f"--anchor {text!r} is not [CHAIN:]SEQ:HASH (a chain, a record number and its "
             "64-hex-digit hash, as `govgate audit head` prints them).")  # fmt: skip
    return (int(chain), int(seq)), digest.lower()


async def _verify(
    store: AuditStore,
    keys: Mapping[str, str],
    anchors: Mapping[tuple[int, int], str],
    report: WitnessReport,
) -> StoreVerdict:
    try:
        with tqdm(total=await store.count(), unit=" records", desc="verifying", file=sys.stderr,
                  disable=None, mininterval=0.5) as bar:  # fmt: skip
            return await verify_store(
                store, keys, anchors=anchors, witnessed=report.heads, progress=bar.update
            )
    finally:
        await store.close()


@audit_group.command("head")
@deployment_options
def head_command(settings: Settings) -> None:
    """Print every chain's head (last record number, its hash, the gateway's signature) as JSON.

    Keep it apart from the deployment (or publish it): `govgate audit verify --anchor
    CHAIN:SEQ:HASH` later proves the log still holds that record unchanged. The object printed
    is the head of the newest chain; `chains` lists them all.
    """
    try:
        heads = asyncio.run(_read_heads(audit_store(settings)))
    except SQLAlchemyError as error:
        fail(f"cannot read the audit store at {settings.audit_url}: {error.__class__.__name__}; "
             "check the URL and that the database is up.")  # fmt: skip
    written = [h for h in heads if h.seq > 0]
    if not written:
        fail("the audit store has no chain head: no gateway has served from it yet.")
    shown = [_shown(head) for head in written]
    click.echo(json.dumps({**shown[-1], "chains": shown}))


def _shown(head: SignedHead) -> dict[str, object]:
    anchor = (f"{head.seq}:{head.hash}" if head.chain == LEGACY_CHAIN
              else f"{head.chain}:{head.seq}:{head.hash}")  # fmt: skip
    return {"chain": head.chain, "seq": head.seq, "hash": head.hash, "keyId": head.key_id,
            "signature": head.signature, "anchor": anchor}  # fmt: skip


async def _read_heads(store: AuditStore) -> list[SignedHead]:
    try:
        return [head for _, head in sorted((await store.heads()).items())]
    finally:
        await store.close()


@audit_group.command("export")
@deployment_options
@click.option("--format", "fmt", type=click.Choice(["jsonl"]), default="jsonl", show_default=True)
@click.option("--from", "start", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="First day (UTC) to export, e.g. 2026-11-01.")  # fmt: skip
@click.option("--to", "end", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Last day (UTC) to export, inclusive.")  # fmt: skip
@click.option("--out", type=click.File("w", encoding="utf-8"), default="-",
              help="Where to write (default: standard output).")  # fmt: skip
def export_command(
    settings: Settings, fmt: str, start: datetime | None, end: datetime | None, out: TextIO
) -> None:
    """Write the log as JSON lines: seq, prevHash, hash and every member of the record."""
    del fmt  # one format today; the option keeps the command line stable for more
    lower, upper = day_range(start.date() if start else None, end.date() if end else None)
    try:
        count = asyncio.run(_export(audit_store(settings), out, lower, upper))
    except SQLAlchemyError as error:
        fail(f"cannot read the audit store at {settings.audit_url}: {error.__class__.__name__}; "
             "check the URL and that the database is up.")  # fmt: skip
    click.echo(f"exported {count:,} records", err=True)


def day_range(first: date | None, last: date | None) -> tuple[str | None, str | None]:
    """`at` bounds for whole UTC days from `first` to `last` inclusive (None: open)."""
    if first is not None and last is not None and last < first:
        fail(f"--to {last} is before --from {first}; give the earlier day first.")
    lower = f"{first.isoformat()}T00:00:00" if first else None
    upper = f"{(last + timedelta(days=1)).isoformat()}T00:00:00" if last else None
    return lower, upper


async def _export(store: AuditStore, out: TextIO, start: str | None, end: str | None) -> int:
    count = 0
    try:
        async for record in store.records(start=start, end=end):
            line = {"chain": record.chain, "seq": record.seq, "prevHash": record.prev_hash,
                    "hash": record.hash, **record.content}  # fmt: skip
            out.write(json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n")
            count += 1
    finally:
        await store.close()
    return count
