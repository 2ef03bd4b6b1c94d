"""The strongest attack on the audit log: rewriting it with the gateway's own key (issue 9).

What an insider who holds the audit database and the gateway's signing key can do: drop the
append-only triggers, delete records, rebuild the chain over what is left (renumbered, every
hash recomputed) and sign the new head with the gateway's key. The log then holds together on
its own, and `govgate audit verify` without a witness finds nothing.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from gateway.trust.audit.chain import link_hash_of
from gateway.trust.audit.store import head_payload
from gateway.trust.vouchers import Keyring

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["named_by_witness", "rewrite_with_own_key", "witnessed_seqs"]


def rewrite_with_own_key(admin_url: str, keys: Path, *, first: int, count: int) -> int:
    """Delete records `first` .. `first + count - 1`, rebuild the chain after them and sign the
    head with the keyring in `keys`; the number of records left."""
    return asyncio.run(_rewrite(admin_url, keys, first, count))


async def _rewrite(admin_url: str, keys: Path, first: int, count: int) -> int:
    engine = create_async_engine(admin_url)
    try:
        async with engine.begin() as connection:
            # The checkpoints would name the records cut away: the forger removes them too
            # (only a witness that kept one still can name the cut).
            for table in ("audit_log", "audit_checkpoints"):
                if connection.dialect.name == "sqlite":
                    for name in (f"{table}_no_update", f"{table}_no_delete"):
                        await connection.execute(text(f"DROP TRIGGER {name}"))
                else:
                    for name in (f"{table}_append_only", f"{table}_no_truncate"):
                        await connection.execute(text(f"DROP TRIGGER {name} ON {table}"))
            await connection.execute(text("DELETE FROM audit_checkpoints"))
            rows = (
                await connection.execute(
                    text(
                        "SELECT seq, at, agency, decision, content, prev_hash FROM audit_log "
                        "WHERE seq >= :first ORDER BY seq"
                    ),
                    {"first": first},
                )
            ).all()
            await connection.execute(text("DELETE FROM audit_log WHERE seq >= :f"), {"f": first})
            prev, seq = str(rows[0].prev_hash), first
            for row in rows[count:]:
                digest = link_hash_of(prev, str(row.content).encode())
                await connection.execute(
                    text(
                        "INSERT INTO audit_log (seq, at, agency, decision, content, prev_hash, "
                        "hash) VALUES (:seq, :at, :agency, :decision, :content, :prev, :hash)"
                    ),
                    {"seq": seq, "at": row.at, "agency": row.agency, "decision": row.decision,
                     "content": row.content, "prev": prev, "hash": digest},
                )  # fmt: skip
                prev, seq = digest, seq + 1
            last = seq - 1
            key_id, signature = Keyring.open(keys).sign(head_payload(last, prev))
            await connection.execute(
                text("UPDATE audit_head SET seq = :s, hash = :h, key_id = :k, signature = :g"),
                {"s": last, "h": prev, "k": key_id, "g": signature},
            )
        return last
    finally:
        await engine.dispose()


def witnessed_seqs(lines: str) -> list[int]:
    """The record numbers of the heads in a witness file's text."""
    heads = (json.loads(line) for line in lines.splitlines() if line.strip())
    return sorted({head["seq"] for head in heads if head.get("chain") != "checkpoint"})


def named_by_witness(seqs: list[int], first: int, left: int) -> str:
    """What verify must name when the records from `first` on were rewritten, `left` records
    remain, and the witnesses hold heads for `seqs`: the record itself when a head was
    witnessed for it and its predecessor, else the narrowest range the heads prove."""
    agreed = max((s for s in seqs if s < first), default=0)
    bound = min(*(s for s in seqs if s >= first), left + 1)
    if bound == agreed + 1:
        return f"Record {bound} was rewritten"
    return f"between {agreed + 1} and {bound}"
