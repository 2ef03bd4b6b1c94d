"""The tamper-evident audit log (Art. 25, 28, 34): every request, hash-chained, append-only.

entry   AuditEntry: what one request did
chain   link_hash, verify_chain: the hash chain and the check naming the first break
store   AuditStore: the database (SQLite or PostgreSQL), append-only by trigger
writer  AuditWriter: group commit; a request is answered once its record is durable
encoding  a record's bytes, made before it joins a batch
witness, publisher, witness_check: signed heads at witnesses the gateway cannot rewrite
report, report_accountability, impact: usage reports and the impact of a catalogue change
(The commands are gateway.cli.audit and gateway.cli.report.)
"""

from gateway.trust.audit.chain import (
    ChainProblem,
    ChainVerdict,
    StoredRecord,
    link_hash,
    verify_chain,
)
from gateway.trust.audit.entry import AuditEntry, Decision, Operation, query_sha256
from gateway.trust.audit.store import AuditStore
from gateway.trust.audit.writer import AuditUnavailableError, AuditWriter

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
    "link_hash",
    "query_sha256",
    "verify_chain",
]
