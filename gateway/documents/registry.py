"""The registered documents as this process knows them: each agency's, in memory.

`start()` loads the log (gateway.documents.store) and follows it across processes
(gateway.follow: at once on PostgreSQL, within a second on SQLite), so an approval or a
revocation by `govgate documents` reaches every running gateway without a restart. Looking a
document up costs a dictionary lookup, never a query. Documents are per agency: one agency's
hash is unknown to every other (asking for it answers exactly as for a hash nobody sent).
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import TYPE_CHECKING

from gateway.documents.errors import DocumentError, DocumentStoreError
from gateway.documents.store import CHANNEL, DocumentRow, document_hash
from gateway.follow import Follower

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from gateway.documents.store import DocumentStore
    from gateway.settings import DocumentOptions

__all__ = ["Documents"]

log = logging.getLogger("govgate.documents")


class Documents:
    """Each agency's registered documents, by hash; whether an agency must use approved ones.

    `on_approved(rows)` is called with the rows of documents newly approved (at start and as
    they arrive), so their plans are compiled ahead.
    """

    def __init__(
        self,
        store: DocumentStore,
        url: str,
        options: DocumentOptions,
        *,
        clock: Callable[[], str],
        on_approved: Callable[[list[DocumentRow]], None] | None = None,
    ) -> None:
        self.store = store
        self.options = options
        self.clock = clock
        self.on_approved = on_approved
        self._rows: dict[tuple[str, str], DocumentRow] = {}
        self._registered: Counter[str] = Counter()
        self._seen = 0
        self._follower = Follower(store, url, self._follow, channel=CHANNEL)

    async def start(self) -> None:
        """Create the table if missing, load every document, and follow new rows."""
        await self.store.create()
        await self._load()
        self._follower.start()

    async def close(self) -> None:
        """Stop following."""
        await self._follower.close()

    def required(self, agency: str) -> bool:
        """Whether `agency` may run approved documents only (`[documents] require_registered`)."""
        return self.options.requires(agency)

    def find(self, agency: str, sha256: str) -> DocumentRow | None:
        """The newest row of document `sha256` for `agency`; None when it has none."""
        return self._rows.get((agency, sha256))

    def approved(self) -> list[DocumentRow]:
        """Every document approved for some agency now."""
        return [row for row in self._rows.values() if row.status == "approved"]

    def admit(self, agency: str, query: str, *, introspection: bool) -> None:
        """Raise DocumentError (DOCUMENT_NOT_APPROVED) unless `agency` may run `query`: any
        text when it is not in required mode; else only a text approved for it, or a query of
        the schema alone (`introspection`: it reads no base data; GraphiQL needs it)."""
        if not self.required(agency) or introspection:
            return
        sha256 = document_hash(query)
        row = self.find(agency, sha256)
        if row is not None and row.status == "approved":
            return
        why = (
            f"it was revoked on {row.decided_at[:10]}"
            if row is not None and row.status == "revoked"
            else "it is not approved for it"
        )
        raise DocumentError(
            f"{agency} runs only documents the platform administrator approved for it "
            f"([documents] require_registered), and {why} (sha256 {sha256}). Send an approved "
            f"document, or ask the administrator to approve this one: govgate documents approve "
            f"--agency {agency} FILE.graphql.",
            code="DOCUMENT_NOT_APPROVED",
        )

    async def register(self, agency: str, query: str, *, by: str) -> bool:
        """Record `query` as registered by `agency`'s application (automatic persisted
        queries); False when it is not recorded: the agency is in required mode (only the
        administrator registers its documents), the document is known already (an approval
        or revocation is never overwritten), or the agency has `max_registered` already."""
        sha256 = document_hash(query)
        if self.required(agency) or (agency, sha256) in self._rows:
            return False
        if self._registered[agency] >= self.options.max_registered:
            count = self._registered[agency]
            log.warning("%s has %d registered documents; no more are kept "
                        "([documents] max_registered)", agency, count)  # fmt: skip
            return False
        try:
            row = await self.store.add(
                query=query, agency=agency, status="registered", decided_by=by,
                decided_at=self.clock(),
            )  # fmt: skip
        except DocumentStoreError as error:  # the answer does not depend on it: log, go on
            log.warning("document %s of %s not registered: %s", sha256[:12], agency, error)
            return False
        self._apply([row])  # here at once; the log's order is kept by `_load` (`_seen`)
        return True

    async def _follow(self, newest: int) -> None:
        if newest > self._seen:
            await self._load()

    async def _load(self) -> None:
        rows = await self.store.since(self._seen)
        self._apply(rows)
        if rows:
            self._seen = rows[-1].id

    def _apply(self, rows: Iterable[DocumentRow]) -> None:
        newer: dict[tuple[str, str], DocumentRow] = {}
        for row in rows:
            key = (row.agency, row.sha256)
            before = newer.get(key) or self._rows.get(key)
            if before is None or before.id < row.id:  # else applied already, or older
                newer[key] = row
        approved = [row for row in newer.values() if row.status == "approved"]
        if approved and self.on_approved is not None:
            # Before the rows are in force: an approved document's first request finds its plan.
            try:
                self.on_approved(approved)
            except Exception:  # compiling ahead saves time; it must never cost an approval
                log.exception("plans of %d approved documents not compiled ahead", len(approved))
        for key, row in newer.items():
            before = self._rows.get(key)
            if before is not None and before.status == "registered":
                self._registered[row.agency] -= 1
            if row.status == "registered":
                self._registered[row.agency] += 1
            self._rows[key] = row
            if row.status == "revoked":
                log.info("document %s revoked for %s", row.sha256[:12], row.agency)
