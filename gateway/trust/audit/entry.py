"""One audit record: who asked what, what they got, and what the gateway decided (Art. 25, 34).

An `AuditEntry` is what the request path knows; the store gives it a sequence number and its
place in the hash chain (`gateway.trust.audit.chain`). Everything in it is plain text, integers and
lists of text, so its canonical JSON form is unambiguous.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields
from typing import Any, Literal

from gateway.trust.canonical import canonical_plain

__all__ = ["DECISIONS", "AuditEntry", "Decision", "Operation", "canonical", "query_sha256"]

Decision = Literal["allowed", "refused", "unauthenticated", "failed"]
#: allowed: the operations ran (they may still carry errors a client can fix, such as
#: INVALID_IDENTIFIER); refused: the gateway declined before running anything (a field not
#: shared, a limit, a malformed request, a non-administrator asking for a reload);
#: unauthenticated: no valid token; failed: the gateway or a source failed.
DECISIONS: tuple[Decision, ...] = ("allowed", "refused", "unauthenticated", "failed")


def canonical(value: object) -> bytes:
    """The record's canonical JSON (RFC 8785): a record holds only text, integers, null and
    lists, so the one canonical form's fast path writes it (gateway.trust.canonical)."""
    return canonical_plain(value)


def query_sha256(query: str) -> str:
    """The SHA-256 of an operation's text, hex (the log keeps the hash, not the text)."""
    return hashlib.sha256(query.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True, slots=True)
class Operation:
    """One GraphQL operation of a request: its name (if any) and the hash of its text."""

    name: str | None
    sha256: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEntry:
    """What one request did; `at` is ISO 8601 UTC with microseconds and a `Z`."""

    at: str
    request_id: str
    endpoint: str
    decision: Decision
    agency: str | None = None
    #: Why the request has no agency (unauthenticated) or was refused, in words.
    reason: str | None = None
    operations: tuple[Operation, ...] = ()
    #: Fields read, as `Type.field`, sorted.
    fields: tuple[str, ...] = ()
    #: Fields asked for but not shared with the agency (FORBIDDEN_FIELD), sorted.
    refused_fields: tuple[str, ...] = ()
    #: Records returned, as `Type:key`, in response order.
    records: tuple[str, ...] = ()
    error_codes: tuple[str, ...] = ()
    policy_version: str | None = None
    latency_us: int = 0
    #: What an auditor should look at, e.g. `seal-invalid:License:KEY`, `verify:Person:KEY`.
    flags: tuple[str, ...] = ()
    #: Vouchers issued with the response (Art. 23).
    vouchers: tuple[str, ...] = ()
    #: The duty the request named (`Govgate-Duty`, Art. 18, 21), as asked even when refused.
    duty: str | None = None
    #: The acting officer the token named (`act.sub`, Art. 29, 34).
    officer: str | None = None

    def __post_init__(self) -> None:
        if self.decision not in DECISIONS:
            raise ValueError(
                f"decision must be one of {', '.join(DECISIONS)}, not {self.decision!r}"
            )

    @property
    def row_count(self) -> int:
        """How many records the response carried."""
        return len(self.records)

    def content(self) -> dict[str, Any]:
        """The entry as the JSON object the chain hashes (camelCase keys, lists for tuples)."""
        # Field by field, not dataclasses.asdict: its deep copy was most of an append's Python
        # time (bench/gw_run.py, audit cost).
        out: dict[str, Any] = {}
        for name, key in _KEYS:
            value = getattr(self, name)
            if value is None and name in _LATER:
                continue  # absent, as in records written before the member existed
            out[key] = list(value) if isinstance(value, tuple) else value
        out["operations"] = [{"name": op.name, "sha256": op.sha256} for op in self.operations]
        out["rowCount"] = self.row_count
        return out

    @classmethod
    def from_content(cls, content: dict[str, Any]) -> AuditEntry:
        """The entry back from `content()` (as stored and exported)."""
        values = {_snake(k): v for k, v in content.items() if k != "rowCount"}
        values["operations"] = tuple(
            Operation(op.get("name"), op["sha256"]) for op in values.get("operations", ())
        )
        for name in ("fields", "refused_fields", "records", "error_codes", "flags", "vouchers"):
            values[name] = tuple(values.get(name, ()))
        return cls(**values)


def _camel_keys() -> tuple[tuple[str, str], ...]:
    return tuple((f.name, _camel(f.name)) for f in fields(AuditEntry))


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


#: (attribute, JSON key) of every member, in declaration order.
_KEYS = _camel_keys()
#: Members added after records were first written: left out of `content()` when None, so a
#: record without them has exactly the canonical form (and hash) it had before they existed.
_LATER = frozenset({"duty", "officer"})
