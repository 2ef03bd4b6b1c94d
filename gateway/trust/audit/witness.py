"""Witnesses: the gateway's signed chain heads, kept where the gateway cannot rewrite them.

Whoever holds the audit database and the gateway's key can rewrite the log, rebuild the chain
and sign a new head (Art. 28). A witness keeps every head the gateway published, so a rewritten
log disagrees with a head it once signed, as Certificate Transparency's gossip and X-Road's
time-stamped batches do. Two kinds (`[audit] witnesses`, docs/deploy-config.md):

- a database behind a SQLAlchemy URL, table `audit_witness`, which the gateway reaches with a
  role that may only INSERT (`govgate audit init-witness` makes it); an auditor reads it with
  another role;
- a file of JSON lines, opened for appending only; a witness only if the gateway's OS user
  cannot rewrite it (`chattr +a`, another machine's mount, a shipper that copies it away).

A published head is a `WitnessedHead`; its `chain` names the chain it belongs to (one chain,
`main`, today; a later version gives each writer process its own).

WitnessError
└── raised when a witness cannot be read for verification (the message says what to check)
"""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import (
    BigInteger,
    Column,
    Identity,
    Integer,
    MetaData,
    String,
    Table,
    insert,
    select,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from gateway.errors import GatewayError
from gateway.trust.audit.schema import ensure_tables
from sources.engines import make_engine
from sources.errors import SourceError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = [
    "MAIN_CHAIN",
    "DatabaseWitness",
    "FileWitness",
    "Witness",
    "WitnessError",
    "WitnessedHead",
    "open_witness",
    "witness_table",
]

#: The one chain there is today; witness records name it so that several can follow.
MAIN_CHAIN = "main"
_FORMAT = 1


class WitnessError(GatewayError):
    """A witness cannot be read or written; the message names it and what to check."""


@dataclass(frozen=True, slots=True, kw_only=True)
class WitnessedHead:
    """A chain head as a witness keeps it: the signed (seq, hash), and who published it when."""

    seq: int
    hash: str
    key_id: str | None
    signature: str | None
    published_at: str
    published_by: str
    chain: str = MAIN_CHAIN

    def to_json(self) -> dict[str, Any]:
        """The JSON object of one witness-file line."""
        return {
            "v": _FORMAT, "chain": self.chain, "seq": self.seq, "hash": self.hash,
            "keyId": self.key_id, "signature": self.signature,
            "publishedAt": self.published_at, "publishedBy": self.published_by,
        }  # fmt: skip

    @classmethod
    def from_json(cls, value: object) -> WitnessedHead:
        """A head from `to_json`'s object; ValueError saying what is wrong otherwise."""
        if not isinstance(value, dict):
            raise ValueError("not a JSON object")
        seq, digest = value.get("seq"), value.get("hash")
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
            raise ValueError("`seq` is not a record number")
        if not isinstance(digest, str) or len(digest) != 64:
            raise ValueError("`hash` is not 64 hex digits")
        texts = {k: value.get(k) for k in ("keyId", "signature", "publishedAt", "publishedBy")}
        if any(v is not None and not isinstance(v, str) for v in texts.values()):
            raise ValueError("`keyId`, `signature`, `publishedAt`, `publishedBy` must be text")
        chain = value.get("chain", MAIN_CHAIN)
        if not isinstance(chain, str):
            raise ValueError("`chain` must be text")
        return cls(
            seq=seq, hash=digest.lower(), key_id=texts["keyId"], signature=texts["signature"],
            published_at=texts["publishedAt"] or "", published_by=texts["publishedBy"] or "",
            chain=chain,
        )  # fmt: skip


class Witness(Protocol):
    """Somewhere heads are published to, and read back from by an auditor."""

    @property
    def name(self) -> str:
        """How logs, metrics and messages name the witness (no password)."""
        ...

    async def prepare(self) -> None:
        """Make ready to publish (create what is missing, where allowed); never raises."""

    async def publish(self, head: WitnessedHead) -> None:
        """Add `head`; raises WitnessError, OSError or SQLAlchemyError when it cannot."""

    async def heads(self) -> tuple[list[WitnessedHead], list[str]]:
        """Every head published, and a sentence for each entry that is not one (WitnessError
        when the witness cannot be read at all)."""
        ...

    async def close(self) -> None:
        """Release what the witness holds open."""


metadata = MetaData()

witness_table = Table(
    "audit_witness",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), Identity(), primary_key=True),
    Column("chain", String(64), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
    Column("key_id", String(32), nullable=True),
    Column("signature", String(128), nullable=True),
    Column("published_at", String(32), nullable=False),
    Column("published_by", String(255), nullable=False),
    # INSERT ... RETURNING would need SELECT, which the publishing role does not have.
    implicit_returning=False,
)


class DatabaseWitness:
    """The `audit_witness` table in a database of its own (not the audit store's)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: AsyncEngine = make_engine(url)
        self._name = make_url(url).render_as_string(hide_password=True)

    @property
    def name(self) -> str:
        """The URL without its password."""
        return self._name

    async def create(self) -> None:
        """Create the table and its append-only triggers if missing (administrators)."""
        async with self.engine.begin() as connection:
            await ensure_tables(connection, metadata, ["audit_witness"])

    async def prepare(self) -> None:
        """Create the table if missing and allowed (SQLite, trials); an insert-only role on an
        administrator's table changes nothing here."""
        try:
            await self.create()
        except (SQLAlchemyError, OSError):
            return  # publishing says what is wrong, and is retried

    async def publish(self, head: WitnessedHead) -> None:
        """Insert `head` (one row; the role needs INSERT only)."""
        async with self.engine.begin() as connection:
            await connection.execute(
                insert(witness_table).values(
                    chain=head.chain, seq=head.seq, hash=head.hash, key_id=head.key_id,
                    signature=head.signature, published_at=head.published_at,
                    published_by=head.published_by,
                )
            )  # fmt: skip

    async def heads(self) -> tuple[list[WitnessedHead], list[str]]:
        """Every row, oldest first (the reading role needs SELECT)."""
        try:
            async with self.engine.connect() as connection:
                result = await connection.execute(
                    select(witness_table).order_by(witness_table.c.id)
                )
                rows = result.mappings().all()
        except (SQLAlchemyError, OSError) as error:
            raise WitnessError(
                f"cannot read the witness {self.name} ({_first_line(error)}); check the URL, "
                "that the database is up, and that this role may SELECT from audit_witness "
                "(the gateway's own witness role may only insert)."
            ) from None
        heads = [
            WitnessedHead(
                seq=int(row["seq"]), hash=str(row["hash"]).lower(), key_id=row["key_id"],
                signature=row["signature"], published_at=str(row["published_at"]),
                published_by=str(row["published_by"]), chain=str(row["chain"]),
            )
            for row in rows
        ]  # fmt: skip
        return heads, []

    async def close(self) -> None:
        """Close the connections."""
        await self.engine.dispose()


class FileWitness:
    """A file of JSON lines, one head each, only ever appended to."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    @property
    def name(self) -> str:
        """The file's path."""
        return str(self.path)

    async def prepare(self) -> None:
        """Nothing: the file is created on the first publication (its folder must exist)."""

    async def publish(self, head: WitnessedHead) -> None:
        """Append one line and flush it to disk (off the event loop)."""
        line = (json.dumps(head.to_json(), sort_keys=True, separators=(",", ":")) + "\n").encode()
        await asyncio.to_thread(_append, self.path, line)

    async def heads(self) -> tuple[list[WitnessedHead], list[str]]:
        """Every well-formed line; a sentence for each one that is not."""
        try:
            text = await asyncio.to_thread(self.path.read_text, "utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise WitnessError(
                f"cannot read the witness file {self.path} ({error}); pass the file the "
                "gateway publishes to (`[audit] witnesses` in its deployment file)."
            ) from None
        heads: list[WitnessedHead] = []
        problems: list[str] = []
        for number, line in _lines(text):
            try:
                heads.append(WitnessedHead.from_json(json.loads(line)))
            except ValueError as error:
                problems.append(f"{self.path}:{number}: not a witnessed head ({error})")
        return heads, problems

    async def close(self) -> None:
        """Nothing is held open between publications."""


def open_witness(target: str) -> Witness:
    """The witness `target` names: a SQLAlchemy URL (a database), else a file path.

    Raises WitnessError when a URL cannot be used.
    """
    if "://" in target and not target.startswith("file://"):
        try:
            return DatabaseWitness(target)
        except (ArgumentError, ValueError, SQLAlchemyError, SourceError) as error:
            raise WitnessError(
                f"the witness {_hide_password(target)!r} is not a usable database URL "
                f"({_first_line(error)}); give a SQLAlchemy URL such as "
                "postgresql+asyncpg://govgate_witness@witness-host/witness, or a file path."
            ) from None
    return FileWitness(target.removeprefix("file://"))


def _append(path: Path, line: bytes) -> None:
    # O_APPEND: every write lands at the end, whatever another worker wrote meanwhile; one
    # write() per line, so lines never interleave.
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(descriptor, line)
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _lines(text: str) -> Iterator[tuple[int, str]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            yield number, line


def _first_line(error: BaseException) -> str:
    original = getattr(error, "orig", None)
    return (str(original or error).strip().splitlines() or [type(error).__name__])[0]


def _hide_password(target: str) -> str:
    scheme, _, rest = target.partition("://")
    return f"{scheme}://{rest.rpartition('@')[2]}"
