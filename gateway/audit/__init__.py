"""The tamper-evident audit log (Art. 25, 28, 34): every request, hash-chained, append-only.

entry   AuditEntry: what one request did
chain   link_hash, verify_chain: the hash chain and the check naming the first break
store   AuditStore: the database (SQLite or PostgreSQL), append-only by trigger
writer  AuditWriter: group commit; a request is answered once its record is durable
reads   fields_read: the `Type.field`s an operation selects
commands, report, report_command: `govgate audit verify | export | report`
"""

from gateway.audit.chain import ChainProblem, ChainVerdict, StoredRecord, link_hash, verify_chain
from gateway.audit.entry import AuditEntry, Decision, Operation, query_sha256
from gateway.audit.reads import fields_read
from gateway.audit.store import AuditStore
from gateway.audit.writer import AuditUnavailableError, AuditWriter

__all__ = [
    "AuditEntry",
    "AuditStore",
    "AuditUnavailableError",
    "AuditWriter",
    "ChainProblem",
    "ChainVerdict",
    "Decision",
    "Operation",
    "StoredRecord",
    "fields_read",
    "link_hash",
    "query_sha256",
    "verify_chain",
]
