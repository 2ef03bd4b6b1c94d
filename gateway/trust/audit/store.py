"""The audit store: append-only tables of hash-chained records, one chain per writer.

SQLite by default (`DATA/audit.db`, WAL, synchronous FULL: a committed record survives a power
cut), PostgreSQL in a deployment. Triggers refuse UPDATE and DELETE on the log, the chain
registry and the checkpoints, so changing them takes someone who can drop the triggers;
`govgate audit verify` then finds what they did. On PostgreSQL the gateway connects with a role
that may only append and read (`gateway.provision.roles`), and publishes its signed heads and
checkpoints to witnesses (`gateway.trust.audit.witness`).

Each `AuditStore` instance (one per gateway process) appends to a chain of its own, registered
when it first writes (`gateway.trust.audit.chains`). It keeps its chain's head in memory, so an
append is the database's own work only: the records inserted and the chain's own head row moved
forward, in one transaction that no other writer waits for. A store written before chains
existed keeps its records as chain 1; where its table cannot take more chains (SQLite, whose
`seq` there is the row id) every writer appends to chain 1 under its head row's lock, as before.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
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
    and_,
    event,
    func,
    insert,
    inspect,
    literal,
    select,
    text,
    update,
)
from sqlalchemy.exc import DBAPIError, IntegrityError

from gateway.errors import GatewayError
from gateway.trust.audit.chain import GENESIS, StoredRecord, link_hash_of
from gateway.trust.audit.chains import (
    LEGACY_CHAIN,
    ChainRegistration,
    Checkpoint,
    chain_payload,
    checkpoint_digest,
    checkpoint_signed_bytes,
    heads_text,
    register_tables,
)
from gateway.trust.audit.encoding import Encoded, encode
from gateway.trust.audit.entry import AuditEntry, canonical
from gateway.trust.audit.schema import append_only, ensure_tables, is_privilege_error
from sources.engines import make_engine

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Sequence

    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

__all__ = [
    "APPEND_ONLY_TABLES",
    "AuditLayoutError",
    "AuditStore",
    "ChainConflictError",
    "SignedHead",
    "Signer",
    "append_only",
    "audit_chains",
    "audit_checkpoints",
    "audit_head",
    "audit_log",
    "head_payload",
    "metadata",
    "utc_now",
]

#: Signs bytes with the gateway's current key: (key id, base64 signature).
Signer = Callable[[bytes], tuple[str, str]]


class AuditLayoutError(GatewayError):
    """The audit store's tables are of an older layout this role may not bring up to date."""


class ChainConflictError(GatewayError):
    """A chain's head moved under its writer: another writer appended to the same chain."""


@dataclass(frozen=True, slots=True)
class SignedHead:
    """A chain head as stored: last sequence number, its hash, and who signed them."""

    seq: int
    hash: str
    key_id: str | None
    signature: str | None
    chain: int = LEGACY_CHAIN


metadata = MetaData()

audit_log = Table(
    "audit_log",
    metadata,
    # Which chain the record belongs to (one per writer), and its place in that chain.
    Column("chain", Integer, primary_key=True, autoincrement=False, server_default=text("1")),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
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
    # The chain whose head this is (1: the legacy chain, the only one before chains existed).
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
    # The gateway's Ed25519 signature over (chain, seq, hash): rewriting a chain from some
    # record on, hashes and all, needs the gateway's private key to sign the new head.
    Column("key_id", String(32), nullable=True),
    Column("signature", String(128), nullable=True),
)

audit_chains, audit_checkpoints = register_tables(metadata)

#: The tables whose rows are never changed nor removed (triggers, and the role's grants).
APPEND_ONLY_TABLES = ("audit_log", "audit_chains", "audit_checkpoints")

#: The members of `content` that also have their own column.
_COPIED = ("at", "agency", "decision")


def head_payload(seq: int, digest: str, chain: int = LEGACY_CHAIN) -> bytes:
    """The bytes a chain head's signature covers (chain 1 as before chains existed)."""
    if chain == LEGACY_CHAIN:
        return f"govgate-audit-head-v1\n{seq}\n{digest}".encode("ascii")
    return f"govgate-audit-head-v2\n{chain}\n{seq}\n{digest}".encode("ascii")


def utc_now() -> str:
    """Now, as audit records write time: ISO 8601 UTC, microseconds, `Z`."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(slots=True)
class _OpenChain:
    """This writer's chain and its head, kept in memory (only this writer moves it)."""

    id: int
    seq: int = 0
    hash: str = GENESIS
    #: An append failed: the head in memory may be behind the database's; read it again.
    stale: bool = False
    #: A legacy SQLite store: every writer shares chain 1 under its head row's lock.
    shared: bool = False


class AuditStore:
    """The audit database behind one SQLAlchemy URL; one instance writes one chain.

    `signer(payload) -> (key id, signature)` signs the chain's registration, its head at every
    append and the checkpoints (the gateway's keyring); without one they are left unsigned
    (tests, read-only tools).
    """

    def __init__(self, url: str, *, signer: Signer | None = None) -> None:
        self.url = url
        self.signer = signer
        self.engine: AsyncEngine = make_engine(url)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine.sync_engine, "connect", _sqlite_durable)
        self.host, self.pid = socket.gethostname(), os.getpid()
        self._chain: _OpenChain | None = None
        self._shared: bool | None = None
        self._lock = asyncio.Lock()  # this instance's appends, one at a time (no other's)
        #: The heads this instance's last checkpoint named (what has not moved is left out).
        self._checkpointed: dict[int, tuple[int, str]] = {}
        #: The last checkpoint this instance wrote (what the witnesses are given).
        self.last_checkpoint: Checkpoint | None = None

    @property
    def chain(self) -> int | None:
        """The chain this instance appends to (None until its first append)."""
        return self._chain.id if self._chain else None

    async def create(self) -> None:
        """Create the tables and triggers if missing (safe on an existing store), and bring a
        store of the single-chain layout up to date (it becomes chain 1).

        On a store an administrator prepared (`govgate audit init-roles`) nothing is created,
        so the gateway's append-only role, which may not run DDL, starts all the same.
        """
        async with self.engine.begin() as connection:
            await _upgrade_legacy(connection)
            await ensure_tables(connection, metadata, APPEND_ONLY_TABLES)
            await self._register_legacy(connection)
            self._shared = await _shared_layout(connection)

    async def close(self) -> None:
        """Release the connections."""
        await self.engine.dispose()

    def _sign(self, payload: bytes) -> tuple[str | None, str | None]:
        return self.signer(payload) if self.signer else (None, None)

    async def _register_legacy(self, connection: AsyncConnection) -> None:
        """A head row 1 without a registration is the single-chain gateway's: register it."""
        legacy = await connection.scalar(
            select(audit_head.c.id).where(audit_head.c.id == LEGACY_CHAIN)
        )
        known = await connection.scalar(
            select(audit_chains.c.chain).where(audit_chains.c.chain == LEGACY_CHAIN)
        )
        if legacy is None or known is not None:
            return
        first = await connection.scalar(
            select(func.min(audit_log.c.at)).where(audit_log.c.chain == LEGACY_CHAIN)
        )
        opened = str(first) if first else utc_now()
        key_id, signature = self._sign(chain_payload(LEGACY_CHAIN, opened, "legacy", 0))
        await connection.execute(
            insert(audit_chains).values(
                chain=LEGACY_CHAIN, opened_at=opened, host="legacy", pid=0,
                key_id=key_id, signature=signature,
            )
        )  # fmt: skip

    async def _open(self) -> _OpenChain:
        """Register a new chain for this instance (or join chain 1 on a legacy SQLite store)."""
        if self._shared is None:
            async with self.engine.connect() as connection:
                self._shared = await _shared_layout(connection)
        if self._shared:
            return _OpenChain(LEGACY_CHAIN, shared=True)
        for _ in range(100):  # writers starting together race for a number: the loser retries
            opened = utc_now()
            try:
                async with self.engine.begin() as connection:
                    top = await connection.scalar(
                        select(func.max(audit_chains.c.chain))
                    )  # the registry: a chain deleted whole keeps its number taken
                    head_top = await connection.scalar(select(func.max(audit_head.c.id)))
                    number = max(int(top or 0), int(head_top or 0)) + 1
                    key_id, signature = self._sign(
                        chain_payload(number, opened, self.host, self.pid)
                    )
                    await connection.execute(
                        insert(audit_chains).values(
                            chain=number, opened_at=opened, host=self.host, pid=self.pid,
                            key_id=key_id, signature=signature,
                        )
                    )  # fmt: skip
                    await connection.execute(
                        insert(audit_head).values(id=number, seq=0, hash=GENESIS)
                    )
            except IntegrityError:
                continue
            return _OpenChain(number)
        raise ChainConflictError("could not register a new audit chain after 100 attempts")

    async def append(
        self,
        entries: Sequence[AuditEntry | Encoded],
        extra: Sequence[tuple[Table, dict[str, Any]]] = (),
    ) -> list[int]:
        """Chain `entries` onto this instance's chain in one transaction; their numbers.

        `extra` rows (table, values) are inserted in the same transaction: the evidence a
        request produced (its vouchers) is recorded exactly when its audit record is. Entries
        come encoded from the writer (gateway.trust.audit.encoding); plain ones are encoded here.
        """
        if not entries:
            return []
        async with self._lock:
            if self._chain is None:
                self._chain = await self._open()
            chain = self._chain
            if chain.shared:
                return await self._append_shared(entries, extra)
            if chain.stale:
                async with self.engine.connect() as connection:
                    row = (
                        await connection.execute(
                            select(audit_head.c.seq, audit_head.c.hash).where(
                                audit_head.c.id == chain.id
                            )
                        )
                    ).one()
                chain.seq, chain.hash, chain.stale = int(row.seq), str(row.hash), False
            rows, seq, prev = _chained(chain.id, chain.seq, chain.hash, entries)
            key_id, signature = self._sign(head_payload(seq, prev, chain.id))
            head = {"chain": chain.id, "known": chain.seq, "seq_head": seq, "hash_head": prev,
                    "key_id": key_id, "signature": signature}  # fmt: skip
            try:
                if not extra and self.engine.dialect.name == "postgresql":
                    await self._append_one_statement(rows, head)
                    chain.seq, chain.hash = seq, prev
                    return [row["seq"] for row in rows]
                async with self.engine.begin() as connection:
                    await connection.execute(insert(audit_log), rows)
                    await _insert_extra(connection, extra)
                    # Only this writer moves this row; the condition catches one that did not.
                    moved = await connection.execute(
                        update(audit_head)
                        .where(and_(audit_head.c.id == chain.id, audit_head.c.seq == chain.seq))
                        .values(seq=seq, hash=prev, key_id=key_id, signature=signature)
                    )
                    if moved.rowcount != 1:
                        raise ChainConflictError(
                            f"the head of audit chain {chain.id} moved under its writer: "
                            "another writer appends to it"
                        )
            except BaseException:
                chain.stale = True
                raise
            chain.seq, chain.hash = seq, prev
            return [row["seq"] for row in rows]

    async def _append_one_statement(self, rows: list[dict[str, Any]], head: dict[str, Any]) -> None:
        """PostgreSQL: the records and the head in one statement, one round trip, committed on
        its own (no BEGIN, no COMMIT); a head that moved fails it whole (division by zero)."""
        columns = {name: [row[name] for row in rows] for name in _ARRAYS}
        async with self.engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            try:
                await autocommit.execute(_ONE_STATEMENT, {**columns, **head})
            except DBAPIError as error:
                if "division by zero" in str(error.orig):
                    raise ChainConflictError(
                        f"the head of audit chain {head['chain']} moved under its writer: "
                        "another writer appends to it"
                    ) from None
                raise

    async def _append_shared(
        self,
        entries: Sequence[AuditEntry | Encoded],
        extra: Sequence[tuple[Table, dict[str, Any]]],
    ) -> list[int]:
        """A legacy SQLite store: lock chain 1's head, read it, append, move it (as before)."""
        async with self.engine.begin() as connection:
            where = audit_head.c.id == LEGACY_CHAIN
            await connection.execute(update(audit_head).where(where).values(seq=audit_head.c.seq))
            head = (
                await connection.execute(select(audit_head.c.seq, audit_head.c.hash).where(where))
            ).one()
            rows, seq, prev = _chained(LEGACY_CHAIN, int(head.seq), str(head.hash), entries)
            await connection.execute(insert(audit_log), rows)
            await _insert_extra(connection, extra)
            key_id, signature = self._sign(head_payload(seq, prev))
            await connection.execute(
                update(audit_head)
                .where(where)
                .values(seq=seq, hash=prev, key_id=key_id, signature=signature)
            )
        return [row["seq"] for row in rows]

    async def checkpoint(self) -> Checkpoint | None:
        """Sign the heads of every chain that moved since this instance's last checkpoint, as
        one row; None when nothing moved (or this instance never wrote)."""
        if self._chain is None:
            return None
        async with self.engine.begin() as connection:
            found = (
                await connection.execute(
                    select(audit_head.c.id, audit_head.c.seq, audit_head.c.hash).where(
                        audit_head.c.seq > 0
                    )
                )
            ).all()
            heads = {int(r.id): (int(r.seq), str(r.hash)) for r in found}
            moved = {c: h for c, h in heads.items() if self._checkpointed.get(c) != h}
            if not moved:
                return None
            at, by, chain = utc_now(), f"{self.host}:{self.pid}", self._chain.id
            body = heads_text(moved)
            digest = checkpoint_digest(at, chain, by, body)
            key_id, signature = self._sign(checkpoint_signed_bytes(digest))
            number = (
                await connection.execute(
                    insert(audit_checkpoints)
                    .values(
                        at=at, chain=chain, made_by=by, heads=body, digest=digest,
                        key_id=key_id, signature=signature,
                    )
                    .returning(audit_checkpoints.c.id)
                )
            ).scalar_one()  # fmt: skip
        self._checkpointed.update(moved)
        made = Checkpoint(int(number), at, chain, by, body, digest, key_id, signature)
        self.last_checkpoint = made
        return made

    async def head(self, chain: int | None = None) -> tuple[int, str] | None:
        """A chain's head (default: this instance's, else the first): the last record's number
        and hash (None if there is none)."""
        signed = await self.signed_head(chain)
        return (signed.seq, signed.hash) if signed else None

    async def signed_head(self, chain: int | None = None) -> SignedHead | None:
        """A chain's head with the signature over it (default as `head`)."""
        wanted = chain if chain is not None else self.chain
        statement = select(audit_head).order_by(audit_head.c.id).limit(1)
        if wanted is not None:
            statement = select(audit_head).where(audit_head.c.id == wanted)
        async with self.engine.connect() as connection:
            row = (await connection.execute(statement)).first()
        if row is None:
            return None
        return SignedHead(int(row.seq), str(row.hash), row.key_id, row.signature, int(row.id))

    async def heads(self) -> dict[int, SignedHead]:
        """Every chain's head, by chain."""
        async with self.engine.connect() as connection:
            rows = (await connection.execute(select(audit_head))).all()
        return {
            int(r.id): SignedHead(int(r.seq), str(r.hash), r.key_id, r.signature, int(r.id))
            for r in rows
        }

    async def chains(self) -> list[ChainRegistration]:
        """The registry, in chain order. A store no gateway of this version has opened yet
        (the single-chain layout) has none: its chain 1 is then given as the legacy one."""
        async with self.engine.connect() as connection:
            if not await connection.run_sync(lambda c: inspect(c).has_table("audit_chains")):
                head = await connection.scalar(
                    select(audit_head.c.id).where(audit_head.c.id == LEGACY_CHAIN)
                )
                if head is None:
                    return []
                return [ChainRegistration(LEGACY_CHAIN, "", "legacy", 0, None, None)]
            rows = (await connection.execute(select(audit_chains).order_by("chain"))).all()
        return [
            ChainRegistration(int(r.chain), str(r.opened_at), str(r.host), int(r.pid),
                              r.key_id, r.signature)
            for r in rows
        ]  # fmt: skip

    async def checkpoints(self) -> AsyncGenerator[Checkpoint]:
        """Every checkpoint, oldest first, streamed."""
        statement = select(audit_checkpoints).order_by(audit_checkpoints.c.id)
        async with self.engine.connect() as connection:
            if not await connection.run_sync(lambda c: inspect(c).has_table("audit_checkpoints")):
                return
            result = await connection.stream(statement.execution_options(yield_per=1_000))
            async for r in result:
                yield Checkpoint(
                    int(r.id), str(r.at), int(r.chain), str(r.made_by), str(r.heads),
                    str(r.digest), r.key_id, r.signature,
                )  # fmt: skip

    async def counts(self) -> dict[int, int]:
        """How many records each chain holds (chains with none are absent)."""
        async with self.engine.connect() as connection:
            if await self._unupgraded(connection):
                found = int(await connection.scalar(text("SELECT count(*) FROM audit_log")) or 0)
                return {LEGACY_CHAIN: found} if found else {}
            rows = await connection.execute(
                select(audit_log.c.chain, func.count()).group_by(audit_log.c.chain)
            )
            return {int(chain): int(n) for chain, n in rows.all()}

    async def count(self) -> int:
        """How many records the log holds."""
        async with self.engine.connect() as connection:
            return int(await connection.scalar(select(func.count()).select_from(audit_log)) or 0)

    async def records(
        self, *, start: str | None = None, end: str | None = None, chain: int | None = None
    ) -> AsyncGenerator[StoredRecord]:
        """Records streamed: of one `chain` in sequence order, else every chain's by time, then
        chain, then sequence number; `start`/`end` bound `at` (end exclusive)."""
        log = audit_log
        async with self.engine.connect() as connection:
            if await self._unupgraded(connection):  # read as it is: chain 1, nothing changed
                log = _legacy_log
            number = literal(LEGACY_CHAIN).label("chain") if log is _legacy_log else log.c.chain
            statement = select(log, number) if log is _legacy_log else select(log)
            if chain is not None:
                statement = statement.where(number == chain).order_by(log.c.seq)
            else:
                statement = statement.order_by(log.c.at, number, log.c.seq)
            if start is not None:
                statement = statement.where(log.c.at >= start)
            if end is not None:
                statement = statement.where(log.c.at < end)
            result = await connection.stream(statement.execution_options(yield_per=2_000))
            async for row in result.mappings():
                yield _stored(row)

    async def _unupgraded(self, connection: AsyncConnection) -> bool:
        """Whether `audit_log` still has the single-chain layout (no `chain` column): a store
        verified or exported before any gateway of this version opened it."""
        columns, _ = await _columns(connection, "audit_log")
        return bool(columns) and "chain" not in columns


#: `audit_log` as the single-chain gateway made it (read only, for a store not yet upgraded).
_legacy_log = Table(
    "audit_log",
    MetaData(),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("at", String(32), nullable=False),
    Column("agency", String(40), nullable=True),
    Column("decision", String(16), nullable=False),
    Column("content", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

#: The columns sent as arrays to `_ONE_STATEMENT` (the chain is one value).
_ARRAYS = ("seq", "at", "agency", "decision", "content", "prev_hash", "hash")

#: PostgreSQL: insert a batch and move its chain's head, or neither. The head row is updated
#: only where it holds the head the writer knows; if it does not, the division by zero fails
#: the statement and nothing is written.
_ONE_STATEMENT = text(
    "WITH added AS ("
    " INSERT INTO audit_log (chain, seq, at, agency, decision, content, prev_hash, hash)"
    " SELECT :chain, * FROM unnest(CAST(:seq AS bigint[]), CAST(:at AS varchar[]),"
    " CAST(:agency AS varchar[]), CAST(:decision AS varchar[]), CAST(:content AS text[]),"
    " CAST(:prev_hash AS varchar[]), CAST(:hash AS varchar[])) RETURNING 1),"
    " moved AS ("
    " UPDATE audit_head SET seq = :seq_head, hash = :hash_head, key_id = :key_id,"
    " signature = :signature WHERE id = :chain AND seq = :known RETURNING 1)"
    " SELECT (SELECT count(*) FROM added) / (SELECT count(*) FROM moved)"
)


def _chained(
    chain: int, seq: int, prev: str, entries: Sequence[AuditEntry | Encoded]
) -> tuple[list[dict[str, Any]], int, str]:
    """The rows of `entries` chained after (seq, prev); the new head's seq and hash."""
    rows: list[dict[str, Any]] = []
    for item in entries:
        encoded = item if isinstance(item, Encoded) else encode(item)
        entry, body = encoded.entry, encoded.text  # encoded once: hashed and stored
        seq += 1
        digest = link_hash_of(prev, body)
        rows.append({
            "chain": chain, "seq": seq, "at": entry.at, "agency": entry.agency,
            "decision": entry.decision, "content": body.decode(), "prev_hash": prev,
            "hash": digest,
        })  # fmt: skip
        prev = digest
    return rows, seq, prev


async def _insert_extra(
    connection: AsyncConnection, extra: Sequence[tuple[Table, dict[str, Any]]]
) -> None:
    by_table: dict[Table, list[dict[str, Any]]] = {}
    for table, values in extra:
        by_table.setdefault(table, []).append(values)
    for table, many in by_table.items():  # one statement per table, not per row
        await connection.execute(insert(table), many)


async def _columns(connection: AsyncConnection, table: str) -> tuple[list[str], list[str]]:
    """`table`'s columns and primary-key columns (empty when there is no such table)."""

    def read(sync: Any) -> tuple[list[str], list[str]]:
        found = inspect(sync)
        if not found.has_table(table):
            return [], []
        columns = [str(c["name"]) for c in found.get_columns(table)]
        key = [str(c) for c in found.get_pk_constraint(table).get("constrained_columns") or []]
        return columns, key

    return await connection.run_sync(read)


async def _shared_layout(connection: AsyncConnection) -> bool:
    """Whether every writer must share chain 1: a legacy table whose key is `seq` alone."""
    _, key = await _columns(connection, "audit_log")
    return key == ["seq"]


async def _upgrade_legacy(connection: AsyncConnection) -> None:
    """Give a single-chain store's `audit_log` its `chain` column (every record: chain 1) and,
    where the database can change a primary key in place, the key (chain, seq)."""
    columns, key = await _columns(connection, "audit_log")
    if not columns or "chain" in columns:
        return
    dialect = connection.dialect.name
    statements = ["ALTER TABLE audit_log ADD COLUMN chain INTEGER NOT NULL DEFAULT 1"]
    if dialect == "postgresql":
        name = await connection.scalar(
            text(
                "SELECT conname FROM pg_constraint WHERE conrelid = 'audit_log'::regclass "
                "AND contype = 'p'"
            )
        )
        statements.append(
            f'ALTER TABLE audit_log DROP CONSTRAINT "{name}", ADD PRIMARY KEY (chain, seq)'
        )
    elif dialect in {"mysql", "mariadb"}:
        statements.append("ALTER TABLE audit_log DROP PRIMARY KEY, ADD PRIMARY KEY (chain, seq)")
    # SQLite: `seq` is the row id and stays the key; every writer shares chain 1 there.
    del key
    try:
        for statement in statements:
            await connection.execute(text(statement))
    except DBAPIError as error:
        if not is_privilege_error(error):
            raise
        raise AuditLayoutError(
            "the audit store was written by an older gateway (one chain) and this role may not "
            "bring its tables up to date; an administrator should run `govgate audit "
            "init-roles` once (docs/deploy.md), which adds the chain column."
        ) from None


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
        raw.encode("utf-8", "surrogatepass"), disagreements, int(row["chain"]),
    )  # fmt: skip


def _sqlite_durable(dbapi_connection: Any, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers (reports, verify) never block writers
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()
