"""The audit log's chains, their registry and the checkpoints that tie them together (Art. 28).

Each writer (one `AuditStore` instance: one per gateway process) appends to a hash chain of its
own, so no row is shared by every writer and adding processes adds throughput. Three things
keep the chains one log an auditor can trust:

- the registry (`audit_chains`): every chain, when it was opened and by which host and process,
  signed with the gateway's key when it was opened; append-only. A chain deleted whole (records
  and head) is missed against its registration; a chain whose registration is missing is one
  written behind the gateway's back;
- the heads (`audit_head`, one row per chain): each chain's last record and its hash, signed at
  every append, as the one head was before;
- checkpoints (`audit_checkpoints`): every `checkpoint_interval_s` while records are written, a
  writer signs the heads of every chain that moved, as one row. Each head a checkpoint names
  must still be a record of its chain with that hash: a chain cut back (its head rolled back
  and re-signed) disagrees with a checkpoint, and the checkpoints are what the witnesses keep.

A store written before chains existed (one chain, head row 1) is chain 1, the legacy chain.
Order across chains is by time, then chain, then sequence number: Art. 28 asks integrity and
completeness, not one total order.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    Column,
    Identity,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

__all__ = [
    "LEGACY_CHAIN",
    "ChainRegistration",
    "Checkpoint",
    "chain_payload",
    "checkpoint_digest",
    "checkpoint_payload",
    "checkpoint_signed_bytes",
    "heads_text",
    "parse_heads",
    "register_tables",
]

#: The chain of a store written by the single-chain gateway (its head row is id 1).
LEGACY_CHAIN = 1


def register_tables(metadata: MetaData) -> tuple[Table, Table]:
    """The registry and checkpoint tables, in `metadata` (the audit store's)."""
    chains = Table(
        "audit_chains",
        metadata,
        Column("chain", Integer, primary_key=True, autoincrement=False),
        Column("opened_at", String(32), nullable=False),
        Column("host", String(255), nullable=False),
        Column("pid", Integer, nullable=False),
        Column("key_id", String(32), nullable=True),
        Column("signature", String(128), nullable=True),
    )
    checkpoints = Table(
        "audit_checkpoints",
        metadata,
        Column("id", BigInteger().with_variant(Integer, "sqlite"), Identity(), primary_key=True),
        Column("at", String(32), nullable=False),
        # The chain of the writer that made it, and "host:pid": who vouches for it.
        Column("chain", Integer, nullable=False),
        Column("made_by", String(255), nullable=False),
        # {"chain": [seq, hash], ...} as canonical JSON: the bytes the digest covers.
        Column("heads", Text, nullable=False),
        Column("digest", String(64), nullable=False),
        Column("key_id", String(32), nullable=True),
        Column("signature", String(128), nullable=True),
    )
    return chains, checkpoints


def chain_payload(chain: int, opened_at: str, host: str, pid: int) -> bytes:
    """The bytes a chain's registration signature covers."""
    return f"govgate-audit-chain-v1\n{chain}\n{opened_at}\n{host}\n{pid}".encode()


def heads_text(heads: dict[int, tuple[int, str]]) -> str:
    """A checkpoint's heads as stored: canonical JSON, chains in number order."""
    ordered = {str(chain): [seq, digest] for chain, (seq, digest) in sorted(heads.items())}
    return json.dumps(ordered, separators=(",", ":"))


def parse_heads(text: str) -> dict[int, tuple[int, str]]:
    """`heads_text` read back; ValueError when it is not what the gateway writes."""
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError("the heads are not a JSON object")
    heads: dict[int, tuple[int, str]] = {}
    for chain, pair in value.items():
        if (
            not chain.isdigit()
            or not isinstance(pair, list)
            or len(pair) != 2
            or not isinstance(pair[0], int)
            or not isinstance(pair[1], str)
        ):
            raise ValueError(f"the head of chain {chain!r} is not [seq, hash]")
        heads[int(chain)] = (pair[0], pair[1])
    if heads_text(heads) != text:
        raise ValueError("the heads are not in the canonical form the gateway writes")
    return heads


def checkpoint_payload(at: str, chain: int, made_by: str, heads: str) -> bytes:
    """The bytes a checkpoint's digest covers."""
    return f"govgate-audit-checkpoint-v1\n{at}\n{chain}\n{made_by}\n{heads}".encode()


def checkpoint_digest(at: str, chain: int, made_by: str, heads: str) -> str:
    """SHA-256 of `checkpoint_payload`, hex: what is signed and what the witnesses keep."""
    return hashlib.sha256(checkpoint_payload(at, chain, made_by, heads)).hexdigest()


def checkpoint_signed_bytes(digest: str) -> bytes:
    """The bytes a checkpoint's signature covers (its digest, tagged)."""
    return f"govgate-audit-checkpoint-sig-v1\n{digest}".encode("ascii")


@dataclass(frozen=True, slots=True)
class ChainRegistration:
    """One row of the registry."""

    chain: int
    opened_at: str
    host: str
    pid: int
    key_id: str | None
    signature: str | None


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """One checkpoint as stored; `heads` parsed (None when the stored text is not valid)."""

    id: int
    at: str
    chain: int
    made_by: str
    heads_text: str
    digest: str
    key_id: str | None
    signature: str | None

    def heads(self) -> dict[int, tuple[int, str]] | None:
        """The heads it names, or None when its text is not the gateway's."""
        try:
            return parse_heads(self.heads_text)
        except ValueError:
            return None

    def recomputed_digest(self) -> str:
        """The digest of what the row holds now (differs from `digest` when edited)."""
        return checkpoint_digest(self.at, self.chain, self.made_by, self.heads_text)
