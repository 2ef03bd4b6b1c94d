"""An audit record's bytes, made before it joins a batch, so that no record can fail another.

A lone surrogate in an operation name made one record unencodable, and the group commit that
carried it failed whole: other agencies' requests were refused with AUDIT_UNAVAILABLE and none
of the batch was recorded (issue 9, item 3). Now each record is encoded when it is handed to the
writer: text that cannot be encoded is replaced (U+FFFD) and the record flagged
`text-replaced`, so the record still says who asked what; a record that cannot be encoded even
so is replaced by a stand-in (`stand_in`) that records the request and why its own record is
missing. The writer (gateway.trust.audit.writer) isolates whatever still fails in the store.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.trust.audit.entry import AuditEntry, canonical

__all__ = ["REPLACED_FLAG", "UNWRITABLE_FLAG", "Encoded", "encode", "stand_in"]

#: Flag of a record whose text held what UTF-8 cannot carry (replaced by U+FFFD).
REPLACED_FLAG = "text-replaced"
#: Flag of a stand-in: the request's own record could not be written.
UNWRITABLE_FLAG = "record-unwritable"


@dataclass(frozen=True, slots=True)
class Encoded:
    """An entry and its canonical bytes (hashed and stored as they are).

    `withheld`: the response must not be released (the record is a stand-in).
    """

    entry: AuditEntry
    text: bytes
    withheld: bool = False


def encode(entry: AuditEntry) -> Encoded:
    """`entry` encoded; repaired and flagged if its text cannot be, a stand-in if even that
    fails. Never raises."""
    try:
        return Encoded(entry, canonical(entry.content()))
    except (UnicodeError, ValueError, TypeError):
        pass
    try:
        content = _replaced(entry.content())
        content["flags"] = [*content["flags"], REPLACED_FLAG]
        repaired = AuditEntry.from_content(content)
        return Encoded(repaired, canonical(repaired.content()))
    except (UnicodeError, ValueError, TypeError) as error:
        substitute = stand_in(entry, f"it could not be encoded: {type(error).__name__}")
        return Encoded(substitute, canonical(substitute.content()), withheld=True)


def stand_in(entry: AuditEntry, why: str) -> AuditEntry:
    """A minimal record of `entry`'s request, for when its own record cannot be written."""
    return AuditEntry(
        at=_text(entry.at),
        request_id=_text(entry.request_id),
        endpoint=_text(entry.endpoint),
        decision="failed",
        agency=_text(entry.agency) if entry.agency is not None else None,
        reason=f"The request's own audit record could not be written ({why}), so the answer "
        "was withheld (AUDIT_UNAVAILABLE); this record stands in for it.",
        error_codes=("AUDIT_UNAVAILABLE",),
        policy_version=_text(entry.policy_version) if entry.policy_version else None,
        latency_us=entry.latency_us if isinstance(entry.latency_us, int) else 0,
        flags=(UNWRITABLE_FLAG,),
    )


def _replaced(value: Any) -> Any:
    """`value` with every string's unencodable code points replaced by U+FFFD."""
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, list | tuple):
        return [_replaced(item) for item in value]
    if isinstance(value, dict):
        return {_text(str(key)): _replaced(item) for key, item in value.items()}
    return value


def _text(value: object) -> str:
    text = str(value)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text
