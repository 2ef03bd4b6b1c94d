"""What the gateway learns about one request while answering it, for its audit record.

A `Trail` starts with the request and gathers as it goes: the agency (or why there is none),
each operation and the fields it read, the records returned, error codes, flags and the
voucher. `entry()` turns it into the `AuditEntry` the writer chains onto the log; its decision
follows from the codes' kinds in the registry (gateway.codes).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gateway.codes import codes_of_kind
from gateway.trust.audit import AuditEntry, Operation, query_sha256

if TYPE_CHECKING:
    from sqlalchemy import Table

    from gateway.trust.audit import Decision

__all__ = ["Trail"]

#: Codes that mean the gateway itself (or a source) failed, not the request (gateway.codes).
_FAILURES = codes_of_kind("failure")
#: Codes that mean an operation was declined before anything ran.
_REFUSALS = codes_of_kind("refusal")


_NAMED = re.compile(r"\s*(?:query|mutation|subscription)\s+([_A-Za-z][_0-9A-Za-z]*)")
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass
class Trail:
    """The audit facts of one request, gathered while it is answered."""

    endpoint: str
    request_id: str
    at: str
    started: float = field(default_factory=time.perf_counter)
    agency: str | None = None
    #: The duty the request named (as asked), and the officer its token named.
    duty: str | None = None
    officer: str | None = None
    reason: str | None = None
    unauthenticated: bool = False
    policy_version: str | None = None
    operations: list[Operation] = field(default_factory=list)
    fields: set[str] = field(default_factory=set)
    refused_fields: set[str] = field(default_factory=set)
    records: list[str] = field(default_factory=list)
    codes: set[str] = field(default_factory=set)
    flags: list[str] = field(default_factory=list)
    vouchers: list[str] = field(default_factory=list)
    #: Rows (table, values) recorded in the same transaction as the audit record: vouchers.
    evidence: list[tuple[Table, dict[str, Any]]] = field(default_factory=list)
    #: Whether any operation ran and released data (a batch may mix refused and answered).
    executed: bool = False
    #: Whether the request as a whole was declined (`refuse`), whatever the code.
    declined: bool = False

    def refuse(self, code: str, reason: str) -> None:
        """The request as a whole was declined (bad body, limit, not an administrator)."""
        self.codes.add(code)
        self.reason = reason
        self.declined = True

    def withhold(self, flag: str) -> None:
        """The answer was built but not released (too large): nothing went out, so no record,
        field or voucher counts as disclosed; `flag` says what was withheld."""
        self.executed = False
        self.fields.clear()
        self.records.clear()
        self.vouchers.clear()
        self.evidence.clear()
        self.flags.append(flag)

    def unauthenticated_because(self, reason: str) -> None:
        """No agency: the token was missing or bad."""
        self.unauthenticated = True
        self.codes.add("UNAUTHENTICATED")
        self.reason = reason

    def operation(self, body: object) -> None:
        """Note an operation's name and the hash of its text (as sent; the text is not kept)."""
        if isinstance(body, dict):
            query, name = body.get("query"), body.get("operationName")
            text = query if isinstance(query, str) else ""
            if not isinstance(name, str):  # the document's own name, when it leads with one
                named = _NAMED.match(text)
                name = named.group(1) if named else None
            self.operations.append(Operation(name, _persisted(body) or query_sha256(text)))

    def result(self, response: dict[str, Any]) -> None:
        """Note the error codes of one operation's response, and whether it released data."""
        if response.get("data") is not None:
            self.executed = True
        for error in response.get("errors") or ():
            extensions = error.get("extensions") or {}
            code = extensions.get("code")
            if isinstance(code, str):
                self.codes.add(code)
            if code == "FORBIDDEN_FIELD" and isinstance(extensions.get("name"), str):
                self.refused_fields.add(extensions["name"])

    @property
    def decision(self) -> Decision:
        """failed > unauthenticated > allowed (data went out) > refused, from what was gathered.

        A batch in which one operation was refused but another answered released data, so it
        is `allowed`; its refusals still show in `errorCodes` and `refusedFields`.
        """
        if self.codes & _FAILURES:
            return "failed"
        if self.unauthenticated:
            return "unauthenticated"
        if self.executed or not (self.declined or self.codes & _REFUSALS):
            return "allowed"
        return "refused"

    def entry(self) -> AuditEntry:
        """The audit record of this request."""
        return AuditEntry(
            at=self.at,
            request_id=self.request_id,
            endpoint=self.endpoint,
            decision=self.decision,
            agency=self.agency,
            reason=self.reason,
            operations=tuple(self.operations),
            fields=tuple(sorted(self.fields)),
            refused_fields=tuple(sorted(self.refused_fields)),
            records=tuple(self.records),
            error_codes=tuple(sorted(self.codes)),
            policy_version=self.policy_version,
            latency_us=int((time.perf_counter() - self.started) * 1_000_000),
            flags=tuple(dict.fromkeys(self.flags)),
            vouchers=tuple(self.vouchers),
            duty=self.duty,
            officer=self.officer,
        )


def _persisted(body: dict[str, Any]) -> str | None:
    """The hash an operation sent without its text asked for (a persisted query whose text
    was not found): recorded as asked, so guessing hashes shows in the log."""
    if isinstance(body.get("query"), str):
        return None
    extensions = body.get("extensions")
    persisted = extensions.get("persistedQuery") if isinstance(extensions, dict) else None
    asked = persisted.get("sha256Hash") if isinstance(persisted, dict) else None
    if isinstance(asked, str) and _SHA256.fullmatch(asked.lower()):
        return asked.lower()
    return None
