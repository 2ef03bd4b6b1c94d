"""One policy for every gateway process (Art. 19: a change opens access everywhere at once).

The catalogue and author rules a gateway serves, and the Casbin files compiled from them, are
published to the gateway's own database (the audit store's, `policy_versions`). Every process
follows the newest row:

- PostgreSQL: the publishing transaction sends `NOTIFY govgate_policy`; every process LISTENs on
  a dedicated connection and loads the new row at once (well under the 2 s the platform
  promises). Chosen over Redis pub/sub because the store is already PostgreSQL: no second
  service to run and secure, and the notification is delivered on commit, so a process never
  hears of a row it cannot yet read. A poll every few seconds covers a dropped connection.
- SQLite (one machine): each process polls the newest id every second.

A process publishes when it starts or reloads and its files compile to a different policy than
the newest published one; any process may reload, and all follow (docs/deploy.md). Each
publication also records who published it, why, the approval it carries and what it removed
(`policy_publications`, Art. 9; gateway.policy.history reads them back).
"""

from __future__ import annotations

import json
import logging
import os
import socket
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import Column, Integer, MetaData, String, Table, Text, func, insert, select, text
from sqlalchemy.exc import SQLAlchemyError

from gateway.policy.served import PolicyTexts
from policies.compiler import CompiledPolicy

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from policies.grants import Policy

__all__ = [
    "CHANNEL",
    "PolicyStore",
    "Publication",
    "StoredPolicy",
    "policy_publications",
    "policy_versions",
]

log = logging.getLogger("govgate.policy")

CHANNEL = "govgate_policy"

metadata = MetaData()

policy_versions = Table(
    "policy_versions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("version", String(16), nullable=False),
    Column("catalog", Text, nullable=False),
    Column("catalog_name", Text, nullable=False),
    Column("rules", Text, nullable=True),
    Column("rules_name", Text, nullable=True),
    # The compiled Casbin files, for anyone inspecting what was in force (policy authors).
    Column("model", Text, nullable=False),
    Column("policy", Text, nullable=False),
    # Every agency's grants as the publisher decided them (JSON, with its day): others adopt
    # them at once instead of asking the enforcer again (about 2 s, per process).
    Column("grants", Text, nullable=False),
    Column("published_at", String(32), nullable=False),
    Column("published_by", String(255), nullable=False),
)


# Art. 9: who put each published policy into force, why, on whose approval, removing what. A
# table of its own (one row per policy_versions row) so stores written before it need no change.
policy_publications = Table(
    "policy_publications",
    metadata,
    Column("policy_id", Integer, primary_key=True, autoincrement=False),
    Column("catalog_version", String(64), nullable=False),
    # "start-up" (a gateway started on new files) or "reload" (the administrator's request).
    Column("occasion", String(16), nullable=False),
    Column("agency", String(40), nullable=True),
    Column("officer", String(64), nullable=True),
    Column("approval", String(200), nullable=True),
    # JSON list of the reductions relative to the policy in force before (policies.diff).
    Column("removed", Text, nullable=False),
    Column("added", Integer, nullable=False),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Publication:
    """Why a policy is published: the occasion, who asked, the approval, what it changes."""

    catalog_version: str
    occasion: Literal["start-up", "reload"]
    agency: str | None = None
    officer: str | None = None
    approval: str | None = None
    #: The reductions, each as `policies.diff` writes them (`as_dict()`).
    removed: tuple[dict[str, Any], ...] = field(default=())
    added: int = 0


@dataclass(frozen=True, slots=True)
class StoredPolicy:
    """A published policy: its row id, version, the texts, the compiled files, the grants."""

    id: int
    version: str
    texts: PolicyTexts
    compiled: CompiledPolicy
    grants: dict[str, Any]


class PolicyStore:
    """The `policy_versions` table in the gateway's database behind `engine`."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def create(self) -> None:
        """Create the table if missing."""
        async with self.engine.begin() as connection:
            await connection.run_sync(metadata.create_all)

    async def latest(self) -> StoredPolicy | None:
        """The newest published policy, or None when nothing was published yet."""
        return await self.stored(None)

    async def stored(self, row_id: int | None) -> StoredPolicy | None:
        """Published policy `row_id` (None: the newest), or None when there is no such row."""
        statement = select(policy_versions).order_by(policy_versions.c.id.desc()).limit(1)
        if row_id is not None:
            statement = select(policy_versions).where(policy_versions.c.id == row_id)
        async with self.engine.connect() as connection:
            row = (await connection.execute(statement)).mappings().first()
        if row is None:
            return None
        texts = PolicyTexts(row["catalog"], row["catalog_name"], row["rules"], row["rules_name"])
        compiled = CompiledPolicy(model=row["model"], policy=row["policy"])
        grants: dict[str, Any] = json.loads(row["grants"])
        return StoredPolicy(int(row["id"]), str(row["version"]), texts, compiled, grants)

    async def latest_id(self) -> int:
        """The newest row's id (0 when none)."""
        async with self.engine.connect() as connection:
            return int(await connection.scalar(select(func.max(policy_versions.c.id))) or 0)

    async def publish(
        self,
        texts: PolicyTexts,
        policy: Policy,
        *,
        at: str,
        publication: Publication | None = None,
    ) -> int:
        """Store `texts` and their compiled `policy` as the newest, with why (`publication`),
        in one transaction; tell every process. Its id."""
        async with self.engine.begin() as connection:
            result = await connection.execute(
                insert(policy_versions).values(
                    version=policy.version,
                    catalog=texts.catalog,
                    catalog_name=texts.catalog_name,
                    rules=texts.rules,
                    rules_name=texts.rules_name,
                    model=policy.compiled.model,
                    policy=policy.compiled.policy,
                    grants=json.dumps(policy.grants_json(), sort_keys=True),
                    published_at=at,
                    published_by=f"{socket.gethostname()}:{os.getpid()}",
                )
            )
            key = result.inserted_primary_key
            if key is None:  # every dialect govgate supports returns it; refuse to guess
                raise SQLAlchemyError("the database did not return the new policy row's id")
            new_id = int(key[0])
            if publication is not None:
                await connection.execute(
                    insert(policy_publications).values(
                        policy_id=new_id,
                        catalog_version=publication.catalog_version,
                        occasion=publication.occasion,
                        agency=publication.agency,
                        officer=publication.officer,
                        approval=publication.approval,
                        removed=json.dumps(list(publication.removed), ensure_ascii=False),
                        added=publication.added,
                    )
                )
            if self.engine.dialect.name == "postgresql":
                await connection.execute(
                    text("SELECT pg_notify(:channel, :payload)"),
                    {"channel": CHANNEL, "payload": str(new_id)},
                )
        return new_id
