"""The audit log's hash chain, and the check that names the first place it was tampered with.

Each record stores `prev_hash` (the hash of the record before it; zeros for the first) and
`hash` = SHA-256 of a domain tag, `prev_hash` and the record's canonical JSON. Changing a
record breaks its own hash; deleting, inserting or swapping records breaks a link; cutting off
the end disagrees with the chain head that every write updates (Art. 28: integrity).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from gateway.trust.audit.entry import canonical

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = [
    "GENESIS",
    "ChainProblem",
    "ChainVerdict",
    "ChainWalker",
    "StoredRecord",
    "link_hash",
    "link_hash_of",
    "verify_chain",
]

GENESIS = "0" * 64
_DOMAIN = b"govgate-audit-v1\n"

ProblemKind = Literal["modified", "deleted", "inserted", "reordered", "rewritten"]


def link_hash(prev_hash: str, content: dict[str, Any]) -> str:
    """The hash of a record whose predecessor's hash is `prev_hash`."""
    return link_hash_of(prev_hash, canonical(content))


def link_hash_of(prev_hash: str, text: bytes) -> str:
    """`link_hash` of a record whose canonical form `text` is already at hand."""
    return hashlib.sha256(_DOMAIN + prev_hash.encode("ascii") + b"\n" + text).hexdigest()


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """A record as the store holds it: its place, its links and its contents."""

    seq: int
    prev_hash: str
    hash: str
    content: dict[str, Any]
    #: False when the stored text is not the canonical form of its contents (rewritten by hand:
    #: escapes or duplicate members that read differently to different tools).
    canonical: bool = True
    #: The stored text exactly as the store holds it; the hash is checked over these bytes, not
    #: over `content` re-encoded (None: `content` came from an export, hash its canonical form).
    text: bytes | None = None
    #: Copied columns that disagree with the stored text: (column, column value, text value).
    disagreements: tuple[tuple[str, object, object], ...] = ()
    #: The chain the record belongs to (one per writer; 1: the legacy chain).
    chain: int = 1


@dataclass(frozen=True, slots=True)
class ChainProblem:
    """The first place the chain does not hold: which record, what happened, in words."""

    seq: int
    kind: ProblemKind
    message: str
    #: When the first changed record can only be bounded (a witness saw records `seq - 1` and
    #: `last`, nothing between): the last record it may be. None: it is record `seq`.
    last: int | None = None


@dataclass(frozen=True, slots=True)
class ChainVerdict:
    """The outcome of checking a whole chain."""

    checked: int
    last_seq: int
    problem: ChainProblem | None

    @property
    def ok(self) -> bool:
        """True when every record and link holds."""
        return self.problem is None


class ChainWalker:
    """Checks records fed one at a time in sequence order; holds two at most (constant memory).

    `feed` each record, then `finish` with the chain head; both return the first problem, if
    any (stop feeding once one is found).
    """

    def __init__(self) -> None:
        self.checked = 0
        self.last_seq = 0
        self._expected = GENESIS
        self._previous: StoredRecord | None = None
        self._pending: StoredRecord | None = None

    def feed(self, record: StoredRecord) -> ChainProblem | None:
        """Take the next record; judge the one before it, whose follower is now known."""
        pending, self._pending = self._pending, record
        return self._judge(pending, record) if pending is not None else None

    def finish(self, head: tuple[int, str] | None) -> ChainProblem | None:
        """No more records: judge the last one, then compare the end with the chain head."""
        if self._pending is not None:
            problem = self._judge(self._pending, None)
            self._pending = None
            if problem is not None:
                return problem
        return _check_head(self._previous, head)

    def _judge(self, record: StoredRecord, following: StoredRecord | None) -> ChainProblem | None:
        self.checked += 1
        self.last_seq = record.seq
        problem = _check(record, self._expected, self._previous, following)
        self._expected, self._previous = record.hash, record
        return problem


def verify_chain(records: Iterable[StoredRecord], head: tuple[int, str] | None) -> ChainVerdict:
    """Check `records` (in sequence order) against each other and the chain `head` (seq, hash)."""
    walker = ChainWalker()
    for record in records:
        problem = walker.feed(record)
        if problem is not None:
            return ChainVerdict(walker.checked, walker.last_seq, problem)
    problem = walker.finish(head)
    return ChainVerdict(walker.checked, walker.last_seq, problem)


def _check(
    record: StoredRecord,
    expected: str,
    previous: StoredRecord | None,
    following: StoredRecord | None,
) -> ChainProblem | None:
    problem = _check_itself(record)
    if problem is not None:
        return problem
    if record.prev_hash == expected:
        wanted = previous.seq + 1 if previous else 1
        if record.seq == wanted:
            return None
        return ChainProblem(
            record.seq, "modified",
            f"Record {record.seq} should be numbered {wanted}: the chain is unbroken, so the "
            "records were renumbered.",
        )  # fmt: skip
    return _check_link(record, expected, previous, following)


def _check_itself(record: StoredRecord) -> ChainProblem | None:
    """A record on its own: its stored text is the canonical form the gateway writes, its hash
    covers exactly that text, and the columns copied from it say what it says."""
    if not record.canonical:
        return ChainProblem(
            record.seq, "modified",
            f"Record {record.seq} was rewritten: its stored text is not the canonical form the "
            "gateway writes, so tools reading it may see other values than the hash covers.",
        )  # fmt: skip
    computed = (
        link_hash_of(record.prev_hash, record.text)
        if record.text is not None
        else link_hash(record.prev_hash, record.content)
    )
    if computed != record.hash:
        return ChainProblem(
            record.seq, "modified",
            f"Record {record.seq} was modified: its contents no longer match its hash.",
        )  # fmt: skip
    if record.disagreements:
        column, in_column, in_text = record.disagreements[0]
        return ChainProblem(
            record.seq, "modified",
            f"Record {record.seq} was modified: its {column} column says {in_column!r} but the "
            f"record it was copied from says {in_text!r} (reports read the column).",
        )  # fmt: skip
    return None


def _check_link(
    record: StoredRecord,
    expected: str,
    previous: StoredRecord | None,
    following: StoredRecord | None,
) -> ChainProblem:
    """Name what broke the link before `record` (its `prev_hash` is not `expected`)."""
    after = f"record {previous.seq}" if previous else "the start of the log"
    if (
        following is not None
        and record.prev_hash == following.hash
        and following.prev_hash == expected
    ):
        return ChainProblem(
            record.seq, "reordered",
            f"Records {record.seq} and {following.seq} were reordered: record {record.seq} was "
            f"written after record {following.seq}.",
        )  # fmt: skip
    if following is not None and following.prev_hash == expected:
        return ChainProblem(
            record.seq, "inserted",
            f"Record {record.seq} was inserted: it is not part of the chain, which goes from "
            f"{after} straight to record {following.seq}.",
        )  # fmt: skip
    first_missing = previous.seq + 1 if previous else 1
    if record.seq > first_missing:
        span = (f"Record {first_missing} was" if record.seq == first_missing + 1
                else f"Records {first_missing} to {record.seq - 1} were")  # fmt: skip
        return ChainProblem(
            first_missing, "deleted", f"{span} deleted: record {record.seq} follows {after}."
        )
    suspect = previous.seq if previous else record.seq
    return ChainProblem(
        suspect, "deleted",
        f"The chain breaks between {after} and record {record.seq}: records between them were "
        f"deleted (and the rest renumbered), or record {suspect} was modified and its hash "
        "rewritten.",
    )  # fmt: skip


def _check_head(last: StoredRecord | None, head: tuple[int, str] | None) -> ChainProblem | None:
    """The last record must be the one the chain head names."""
    if head is None or head[0] == 0:
        if last is None:
            return None
        return ChainProblem(
            last.seq, "inserted",
            "The log holds records but its chain head is empty: the head was reset, or the "
            "records were written behind the gateway's back.",
        )  # fmt: skip
    head_seq, head_hash = head
    if last is None:
        return ChainProblem(
            1, "deleted", f"Every record was deleted: the chain head names record {head_seq}."
        )
    if last.hash == head_hash:
        return None
    if head_seq > last.seq:
        return ChainProblem(
            last.seq + 1, "deleted",
            f"Records after {last.seq} were deleted: the chain head names record {head_seq}.",
        )  # fmt: skip
    return ChainProblem(
        last.seq, "inserted",
        f"Record {last.seq} was added behind the gateway's back: the chain head names record "
        f"{head_seq} as the last one written.",
    )  # fmt: skip
