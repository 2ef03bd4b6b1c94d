"""Checking the log against every head the witnesses hold (`govgate audit verify --witness`).

A head the gateway signed and a witness kept is a fact about the log as it was: record `seq`
had hash `hash`. Each record's hash covers every record before it, so the log still agrees with
a witnessed head exactly when it was not changed up to that record. A log rewritten with the
gateway's own key (triggers dropped, records deleted, the chain rebuilt and the head signed
again) holds together on its own, but disagrees with the first witnessed head after the change:
the first rewritten record lies after the last witnessed record that still agrees, and at or
before the first that does not. Heads published every record name it exactly.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gateway.trust.audit.chain import ChainProblem
from gateway.trust.audit.chains import LEGACY_CHAIN, checkpoint_signed_bytes
from gateway.trust.audit.store import head_payload
from gateway.trust.audit.witness import MAIN_CHAIN, WitnessError, open_witness
from gateway.trust.vouchers import verify_signature

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from gateway.trust.audit.chain import StoredRecord
    from gateway.trust.audit.witness import WitnessedHead

__all__ = ["WitnessCheck", "WitnessError", "WitnessReport", "read_witnesses"]


@dataclass(slots=True)
class WitnessReport:
    """The heads the witnesses hold that the gateway's keys signed, and notes on the rest."""

    #: (witness name, head), in no particular order.
    heads: list[tuple[str, WitnessedHead]] = field(default_factory=list)
    #: Sentences for the auditor: entries that are not signed heads, witnesses holding none.
    notes: list[str] = field(default_factory=list)
    witnesses: int = 0


async def read_witnesses(targets: Sequence[str], keys: Mapping[str, str]) -> WitnessReport:
    """Read every head from each witness in `targets`, keeping those signed with `keys`.

    Raises WitnessError when a witness cannot be read at all.
    """
    report = WitnessReport(witnesses=len(targets))
    for target in targets:
        witness = open_witness(target)
        try:
            heads, problems = await witness.heads()
        finally:
            await witness.close()
        report.notes += problems
        kept = 0
        for head in heads:
            problem = _unusable(head, keys)
            if problem is None:
                report.heads.append((witness.name, head))
                kept += 1
            else:
                report.notes.append(f"{witness.name}: the head of record {head.seq} {problem}.")
        if kept == 0:
            report.notes.append(
                f"{witness.name} holds no head signed with the gateway's keys: nothing to check "
                "against (is it the witness the gateway publishes to?)."
            )
    return report


def _unusable(head: WitnessedHead, keys: Mapping[str, str]) -> str | None:
    if head.chain == "checkpoint":
        payload = checkpoint_signed_bytes(head.hash)
    elif head.chain == MAIN_CHAIN or head.chain.isdigit():
        chain = LEGACY_CHAIN if head.chain == MAIN_CHAIN else int(head.chain)
        payload = head_payload(head.seq, head.hash, chain)
    else:
        return f"belongs to chain {head.chain!r}, which this version does not know; ignored"
    if head.key_id is None or head.signature is None:
        return "carries no signature; ignored"
    public = keys.get(head.key_id)
    if public is None:
        return (
            f"is signed with key {head.key_id}, which is not among the gateway's public keys; "
            "ignored (pass the published keys with --keys)"
        )
    if not verify_signature(public, payload, head.signature):
        return "does not carry the gateway's signature over its record and hash; ignored"
    return None


class WitnessCheck:
    """Fed the log's records in order, finds the first that disagrees with a witnessed head."""

    def __init__(self, heads: Sequence[tuple[str, WitnessedHead]]) -> None:
        self._heads: dict[int, list[tuple[str, WitnessedHead]]] = defaultdict(list)
        for name, head in heads:
            self._heads[head.seq].append((name, head))
        #: The last witnessed record the log still agrees with (0: none yet).
        self.agreed = 0
        self.newest = max(self._heads, default=0)

    def feed(self, record: StoredRecord) -> ChainProblem | None:
        """Check `record` against the heads witnessed for it, if any."""
        witnessed = self._heads.get(record.seq)
        if not witnessed:
            return None
        for name, head in witnessed:
            if head.hash != record.hash:
                found = f"has hash {record.hash[:16]}..."
                return self._rewritten(record.seq, name, head, found)
        self.agreed = record.seq
        return None

    def finish(self, last_seq: int) -> ChainProblem | None:
        """The log ends at `last_seq`: a head witnessed for a later record shows a cut."""
        later = [seq for seq in self._heads if seq > last_seq]
        if not later:
            return None
        seq = min(later)
        name, head = self._heads[seq][0]
        gone = f"is gone: the log ends at record {last_seq}"
        if self.agreed == last_seq:  # intact up to its end, then cut
            return ChainProblem(
                last_seq + 1, "deleted",
                f"Records from {last_seq + 1} on were deleted (the log was cut back): "
                f"{self._seen(seq, name, head, gone)}.{self._fork(seq)}",
            )  # fmt: skip
        return self._rewritten(last_seq + 1, name, head, gone, witnessed=seq)

    def _rewritten(
        self, last: int, name: str, head: WitnessedHead, found: str, *, witnessed: int = 0
    ) -> ChainProblem:
        """The first changed record is after `self.agreed` and at most `last`."""
        seq = witnessed or last
        first = self.agreed + 1
        seen, fork = self._seen(seq, name, head, found), self._fork(seq)
        agreed = (
            f"record {self.agreed}, the last one a witness saw before it, still agrees"
            if self.agreed
            else "no record before it was witnessed"
        )
        if first >= last:
            return ChainProblem(
                last, "rewritten",
                f"Record {last} was rewritten (with every hash after it and the head signed "
                f"again): {seen}; {agreed}.{fork}",
            )  # fmt: skip
        return ChainProblem(
            first, "rewritten",
            f"The log was rewritten from a record between {first} and {last} (hashes "
            f"recomputed and the head signed again): {seen}; {agreed}.{fork}",
            last,
        )  # fmt: skip

    @staticmethod
    def _seen(seq: int, name: str, head: WitnessedHead, found: str) -> str:
        return (
            f"{name} holds the gateway's signed head for record {seq} (hash {head.hash[:16]}..., "
            f"published {head.published_at or 'at an unknown time'}), but the log's record {seq} "
            f"{found}"
        )

    def _fork(self, seq: int) -> str:
        hashes = {h.hash for _, h in self._heads[seq]}
        if len(hashes) < 2:
            return ""
        return (
            f" The witnesses hold {len(hashes)} different heads signed for record {seq}: the "
            "gateway's key signed two histories, so it was used outside the gateway."
        )
