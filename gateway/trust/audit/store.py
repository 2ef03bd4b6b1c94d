"""The audit store: an append-only table of hash-chained records and the chain's head.

SQLite by default (`DATA/audit.db`, WAL, synchronous FULL: a committed record survives a power
cut), PostgreSQL in a deployment. Triggers refuse UPDATE and DELETE on the log, so changing it
takes someone who can drop them; `govgate audit verify` then finds what they did. On
PostgreSQL the gateway connects with a role that may only append and read
(`gateway.provision.roles`), and publishes its signed head to witnesses
(`gateway.trust.audit.witness`).

Appending locks the head row first, so writers in several processes interleave whole batches
and the chain stays one line (Art. 28).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    event,
    func,
    insert,
    select,
    update,
)

from gateway.trust.audit.chain import GENESIS, StoredRecord, link_hash_of
from gateway.trust.audit.encoding import Encoded, encode
from gateway.trust.audit.entry import AuditEntry, canonical
from gateway.trust.audit.schema import append_only, ensure_tables
from sources.engines import make_engine

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Sequence

    from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = [
    "AuditStore",
    "SignedHead",
    "Signer",
    "append_only",
    "audit_head",
    "audit_log",
    "head_payload",
    "metadata",
]

#: Signs bytes with the gateway's current key: (key id, base64 signature).
Signer = Callable[[bytes], tuple[str, str]]


@dataclass(frozen=True, slots=True)
class SignedHead:
    """The chain head as stored: last sequence number, its hash, and who signed them."""

    seq: int
    hash: str
    key_id: str | None
    signature: str | None


metadata = MetaData()

audit_log = Table(
    "audit_log",
    metadata,
    Column(
        "seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    ),
    # Copies of three members of `content`, for reports; verification checks they agree.
    Column("at", String(32), nullable=False),
    Column("agency", String(40), nullable=True),
    Column("decision", String(16), nullable=False),
    Column("content", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_audit_log_at", "at"),
    Index("ix_audit_log_agency_at", "agency", "at"),
)

audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
    # The gateway's Ed25519 signature over (seq, hash): rewriting the whole chain from some
    # record on, hashes and all, needs the gateway's private key to sign the new head.
    Column("key_id", String(32), nullable=True),
    Column("signature", String(128), nullable=True),
)


#: The members of `content` that also have their own column.
_COPIED = ("at", "agency", "decision")


def head_payload(seq: int, digest: str) -> bytes:
    """The bytes a chain head's signature covers."""
    return f"govgate-audit-head-v1\n{seq}\n{digest}".encode("ascii")


class AuditStore:
    """The audit database behind one SQLAlchemy URL.

    `signer(payload) -> (key id, signature)` signs the chain head at every append (the
    gateway's keyring); without one the head is left unsigned (tests, read-only tools).
    """

    def __init__(self, url: str, *, signer: Signer | None = None) -> None:
        self.url = url
        self.signer = signer
        self.engine: AsyncEngine = make_engine(url)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine.sync_engine, "connect", _sqlite_durable)

    async def create(self) -> None:
        """Create the tables, triggers and head if missing (safe on an existing store).

        On a store an administrator prepared (`govgate audit init-roles`) nothing is created,
        so the gateway's append-only role, which may not run DDL, starts all the same.
        """
        async with self.engine.begin() as connection:
            await ensure_tables(connection, metadata, ["audit_log"])
            found = await connection.scalar(select(audit_head.c.id).where(audit_head.c.id == 1))
            if found is None:
                await connection.execute(insert(audit_head).values(id=1, seq=0, hash=GENESIS))

    async def close(self) -> None:
        """Release the connections."""
        await self.engine.dispose()

    async def append(
        self,
        entries: Sequence[AuditEntry | Encoded],
        extra: Sequence[tuple[Table, dict[str, Any]]] = (),
    ) -> list[int]:
        """Chain `entries` onto the log in one transaction; their sequence numbers.

        `extra` rows (table, values) are inserted in the same transaction: the evidence a
        request produced (its vouchers) is recorded exactly when its audit record is. Entries
        come encoded from the writer (gateway.trust.audit.encoding); plain ones are encoded here.
        """
        if not entries:
            return []
        async with self.engine.begin() as connection:
            # Lock the head first: a second writer (another process) waits here, not later.
            await connection.execute(
                update(audit_head).where(audit_head.c.id == 1).values(seq=audit_head.c.seq)
            )
            head = (
                await connection.execute(
                    select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)
                )
            ).one()
            seq, prev = int(head.seq), str(head.hash)
            rows: list[dict[str, Any]] = []
            for item in entries:
                encoded = item if isinstance(item, Encoded) else encode(item)
                entry, text = encoded.entry, encoded.text  # encoded once: hashed and stored
                seq += 1
                digest = link_hash_of(prev, text)
                rows.append({
                    "seq": seq, "at": entry.at, "agency": entry.agency, "decision": entry.decision,
                    "content": text.decode(), "prev_hash": prev, "hash": digest,
                })  # fmt: skip
                prev = digest
            await connection.execute(insert(audit_log), rows)
            by_table: dict[Table, list[dict[str, Any]]] = {}
            for table, values in extra:
                by_table.setdefault(table, []).append(values)
            for table, many in by_table.items():  # one statement per table, not per row
                await connection.execute(insert(table), many)
            key_id, signature = (
                self.signer(head_payload(seq, prev)) if self.signer else (None, None)
            )
            await connection.execute(
                update(audit_head)
                .where(audit_head.c.id == 1)
                .values(seq=seq, hash=prev, key_id=key_id, signature=signature)
            )
        return [row["seq"] for row in rows]

    async def head(self) -> tuple[int, str] | None:
        """The chain head: the last record's sequence number and hash (None if never created)."""
        signed = await self.signed_head()
        return (signed.seq, signed.hash) if signed else None

    async def signed_head(self) -> SignedHead | None:
        """The chain head with the signature over it (None if the store was never created)."""
        async with self.engine.connect() as connection:
            row = (await connection.execute(select(audit_head).where(audit_head.c.id == 1))).first()
        if row is None:
            return None
        return SignedHead(int(row.seq), str(row.hash), row.key_id, row.signature)

    async def count(self) -> int:
        """How many records the log holds."""
        async with self.engine.connect() as connection:
            return int(await connection.scalar(select(func.count()).select_from(audit_log)) or 0)

    async def records(
        self, *, start: str | None = None, end: str | None = None
    ) -> AsyncGenerator[StoredRecord]:
        """Every record in sequence order, streamed; `start`/`end` bound `at` (end exclusive)."""
        statement = select(audit_log).order_by(audit_log.c.seq)
        if start is not None:
            statement = statement.where(audit_log.c.at >= start)
        if end is not None:
            statement = statement.where(audit_log.c.at < end)
        async with self.engine.connect() as connection:
            result = await connection.stream(statement.execution_options(yield_per=2_000))
            async for row in result.mappings():
                yield _stored(row)


def _stored(row: Any) -> StoredRecord:
    """A row as a chain record: the hash is checked over the stored text itself; the copied
    columns are compared with it separately, a disagreement being a modification."""
    raw = str(row["content"])
    content: dict[str, Any] = json.loads(raw)
    exact = canonical(content).decode() == raw
    disagreements = tuple(
        (name, row[name], content.get(name)) for name in _COPIED if row[name] != content.get(name)
    )
    return StoredRecord(
        int(row["seq"]), str(row["prev_hash"]), str(row["hash"]), content, exact,
        raw.encode("utf-8", "surrogatepass"), disagreements,
    )  # fmt: skip


def _sqlite_durable(dbapi_connection: Any, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers (reports, verify) never block writers
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()
