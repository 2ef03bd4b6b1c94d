"""The registered documents, in the gateway's own database (`trusted_documents`).

The table is a log: every registration, approval and revocation is a row of its own, never
changed, so who approved a document and who withdrew it stays on record (the X-Road "service"
model: the platform administrator approves each one an agency may run). A document's state for
an agency is its newest row. Every gateway process follows the table the way it follows the
published policy (gateway.follow): LISTEN/NOTIFY on PostgreSQL, a 1 s poll on SQLite.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from sqlalchemy import Column, Index, Integer, MetaData, String, Table, Text, func, insert, select
from sqlalchemy import text as sql_text
from sqlalchemy.exc import SQLAlchemyError

from gateway.documents.errors import DocumentStoreError

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = [
    "CHANNEL",
    "DocumentRow",
    "DocumentStore",
    "Status",
    "document_hash",
    "trusted_documents",
]

#: The NOTIFY channel of the table's writers (PostgreSQL).
CHANNEL = "govgate_documents"

#: approved: by the platform administrator (`govgate documents approve`); revoked: withdrawn by
#: them; registered: sent once with its text by an agency's application (automatic persisted
#: queries), never approved by anyone.
Status = Literal["approved", "revoked", "registered"]
STATUSES: tuple[Status, ...] = ("approved", "revoked", "registered")

metadata = MetaData()

trusted_documents = Table(
    "trusted_documents",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    #: SHA-256 of the exact text (UTF-8), hex, lower case: the persisted query's hash.
    Column("sha256", String(64), nullable=False),
    Column("agency", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("query", Text, nullable=False),
    #: Who: the administrator's name for approvals and revocations; `agency:CODE` (and the
    #: officer) for an automatic registration.
    Column("decided_by", String(255), nullable=False),
    Column("decided_at", String(32), nullable=False),
    Column("note", Text, nullable=True),
    Index("trusted_documents_agency_sha256", "agency", "sha256"),
)


def document_hash(query: str) -> str:
    """The SHA-256 of a document's exact text, hex: what `persistedQuery.sha256Hash` names."""
    return hashlib.sha256(query.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True, kw_only=True)
class DocumentRow:
    """One row of the log: a document's state for one agency from then on."""

    id: int
    sha256: str
    agency: str
    status: Status
    query: str
    decided_by: str
    decided_at: str
    note: str | None = None


class DocumentStore:
    """The `trusted_documents` table in the gateway's database behind `engine`."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def create(self) -> None:
        """Create the table if missing."""
        async with self.engine.begin() as connection:
            await connection.run_sync(metadata.create_all)

    async def add(
        self,
        *,
        query: str,
        agency: str,
        status: Status,
        decided_by: str,
        decided_at: str,
        note: str | None = None,
    ) -> DocumentRow:
        """Append a row (and tell every process: NOTIFY on PostgreSQL); the row written."""
        if status not in STATUSES:
            raise DocumentStoreError(f"{status!r} is not a document status; use one of {STATUSES}.")
        values = {
            "sha256": document_hash(query),
            "agency": agency,
            "status": status,
            "query": query,
            "decided_by": decided_by[:255],
            "decided_at": decided_at,
            "note": note,
        }
        try:
            async with self.engine.begin() as connection:
                result = await connection.execute(insert(trusted_documents).values(**values))
                key = result.inserted_primary_key
                if key is None:
                    raise DocumentStoreError("the database did not return the document's row id")
                row = int(key[0])
                if self.engine.dialect.name == "postgresql":
                    await connection.execute(
                        sql_text("SELECT pg_notify(:channel, :payload)"),
                        {"channel": CHANNEL, "payload": str(row)},
                    )
        except SQLAlchemyError as error:
            raise DocumentStoreError(
                f"the registered documents cannot be written ({type(error).__name__}); check "
                "the gateway's database ([audit] url) and its grants (govgate audit init-roles)."
            ) from None
        return DocumentRow(id=row, **values)  # type: ignore[arg-type]

    async def latest_id(self) -> int:
        """The newest row's id (0 when none)."""
        async with self.engine.connect() as connection:
            return int(await connection.scalar(select(func.max(trusted_documents.c.id))) or 0)

    async def since(self, after: int) -> list[DocumentRow]:
        """Every row after row `after`, oldest first."""
        statement = (
            select(trusted_documents)
            .where(trusted_documents.c.id > after)
            .order_by(trusted_documents.c.id)
        )
        async with self.engine.connect() as connection:
            rows = (await connection.execute(statement)).mappings().all()
        return [DocumentRow(**dict(row)) for row in rows]

    async def current(self, agency: str | None = None) -> list[DocumentRow]:
        """Each document's newest row (for `agency`, or every agency), oldest first."""
        newest: dict[tuple[str, str], DocumentRow] = {}
        for row in await self.since(0):
            if agency is None or row.agency == agency:
                newest[(row.agency, row.sha256)] = row
        return sorted(newest.values(), key=lambda row: row.id)
