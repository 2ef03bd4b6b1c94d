"""Trusted documents: operations an agency's application registers and runs by their hash.

    store       the `trusted_documents` log in the gateway's database (approvals, revocations,
                automatic registrations), followed by every process
    registry    Documents: each agency's documents in memory; required mode (`[documents]
                require_registered`: approved documents only, the X-Road "service" model)
    persisted   Apollo's automatic persisted queries: `extensions.persistedQuery.sha256Hash`
    errors      DocumentError (an operation refused by its document), DocumentStoreError

The HTTP endpoint resolves a persisted query before it prepares the operation, and asks the
registry to admit the text after validation (gateway.http.endpoints.graphql); `govgate
documents` approves, lists and revokes (gateway.cli.documents); the gateway compiles the plans
of approved documents ahead (gateway.graphql.ahead). docs/gateway.md, "Persisted queries".
"""

from gateway.documents.errors import DocumentError, DocumentStoreError
from gateway.documents.persisted import Resolved, resolve
from gateway.documents.registry import Documents
from gateway.documents.store import DocumentRow, DocumentStore, Status, document_hash

__all__ = [
    "DocumentError",
    "DocumentRow",
    "DocumentStore",
    "DocumentStoreError",
    "Documents",
    "Resolved",
    "Status",
    "document_hash",
    "resolve",
]
