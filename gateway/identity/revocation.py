"""Revoked tokens: `govgate token revoke` writes a token id (`jti`) here, and every gateway
process refuses that token within seconds (docs/security.md, "Tokens").

Revocations live in the gateway's own database (the audit store's, `revoked_tokens`), like the
published policy, and every process follows them the same way (gateway.policy.sync): LISTEN /
NOTIFY on PostgreSQL (at once, with a 5 s poll as a safety net), a 1 s poll on SQLite. Each
process keeps the revoked ids in memory, so checking a token costs a set lookup, never a query.

A revocation is kept until the token would have expired anyway (its `exp`, or, when only the id
is known, the longest lifetime any accepted token can still have), then forgotten.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from typing import TYPE_CHECKING

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.exc import SQLAlchemyError

from gateway.follow import Follower
from gateway.identity.config import MAX_JTI_LENGTH

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["CHANNEL", "MAX_JTI_LENGTH", "RevocationStore", "Revocations", "revoked_tokens"]

log = logging.getLogger("govgate.revocation")

CHANNEL = "govgate_revocation"

metadata = MetaData()

revoked_tokens = Table(
    "revoked_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("jti", String(MAX_JTI_LENGTH), nullable=False),
    #: Unix time after which no gateway would accept the token anyway: the row may go.
    Column("expires_at", BigInteger().with_variant(Integer, "sqlite"), nullable=False),
    Column("revoked_at", String(32), nullable=False),
    Column("revoked_by", String(255), nullable=False),
    Column("reason", Text, nullable=True),
    Index("revoked_tokens_expires_at", "expires_at"),
)


class RevocationStore:
    """The `revoked_tokens` table in the gateway's database behind `engine`."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def create(self) -> None:
        """Create the table if missing."""
        async with self.engine.begin() as connection:
            await connection.run_sync(metadata.create_all)

    async def revoke(self, jti: str, *, expires_at: int, at: str, reason: str | None) -> int:
        """Store a revocation and tell every process (PostgreSQL: NOTIFY); the row's id.

        Rows of tokens that have expired anyway are deleted in the same transaction.
        """
        if not jti or len(jti) > MAX_JTI_LENGTH:
            raise ValueError(
                f"A token id (jti) has 1 to {MAX_JTI_LENGTH} characters; give the jti of the "
                "token to revoke, or the token itself."
            )
        async with self.engine.begin() as connection:
            await connection.execute(
                delete(revoked_tokens).where(revoked_tokens.c.expires_at < int(time.time()))
            )
            result = await connection.execute(
                insert(revoked_tokens).values(
                    jti=jti,
                    expires_at=expires_at,
                    revoked_at=at,
                    revoked_by=f"{socket.gethostname()}:{os.getpid()}",
                    reason=reason,
                )
            )
            key = result.inserted_primary_key
            if key is None:  # every dialect govgate supports returns it; refuse to guess
                raise SQLAlchemyError("the database did not return the revocation's row id")
            row = int(key[0])
            if self.engine.dialect.name == "postgresql":
                await connection.execute(
                    text("SELECT pg_notify(:channel, :payload)"),
                    {"channel": CHANNEL, "payload": str(row)},
                )
        return row

    async def latest_id(self) -> int:
        """The newest row's id (0 when none)."""
        async with self.engine.connect() as connection:
            return int(await connection.scalar(select(func.max(revoked_tokens.c.id))) or 0)

    async def since(self, after: int, *, now: int) -> list[tuple[int, str, int]]:
        """(id, jti, expires_at) of the revocations after row `after` still in force at `now`."""
        statement = (
            select(revoked_tokens.c.id, revoked_tokens.c.jti, revoked_tokens.c.expires_at)
            .where(revoked_tokens.c.id > after, revoked_tokens.c.expires_at >= now)
            .order_by(revoked_tokens.c.id)
        )
        async with self.engine.connect() as connection:
            rows = (await connection.execute(statement)).all()
        return [(int(r.id), str(r.jti), int(r.expires_at)) for r in rows]


class Revocations:
    """The token ids revoked and not yet expired, as this process knows them.

    `start()` loads them and follows the store; `is_revoked(jti)` answers from memory.
    """

    def __init__(
        self, store: RevocationStore, url: str, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.clock = clock
        self._revoked: dict[str, int] = {}
        self._seen = 0
        self._follower = Follower(store, url, self._follow, channel=CHANNEL)

    def is_revoked(self, jti: str) -> bool:
        """Whether the token id `jti` was revoked (and the revocation is still kept)."""
        expires = self._revoked.get(jti)
        return expires is not None and expires >= self.clock()

    async def start(self) -> None:
        """Create the table if missing, load every revocation in force, and follow new ones."""
        await self.store.create()
        await self._load()
        self._follower.start()

    async def close(self) -> None:
        """Stop following."""
        await self._follower.close()

    async def _follow(self, newest: int) -> None:
        if newest > self._seen:
            await self._load(newest)

    async def _load(self, newest: int = 0) -> None:
        now = int(self.clock())
        rows = await self.store.since(self._seen, now=now)
        self._seen = max(self._seen, newest)  # rows up to it that expired meanwhile: skipped
        for row, jti, expires in rows:
            self._revoked[jti] = max(expires, self._revoked.get(jti, 0))
            self._seen = max(self._seen, row)
            log.info("token %s revoked: refused from now on", jti[:12])
        # Forget what expired anyway: the set stays as small as the live revocations.
        for jti in [j for j, expires in self._revoked.items() if expires < now]:
            del self._revoked[jti]
