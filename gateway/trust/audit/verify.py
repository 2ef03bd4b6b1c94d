"""Checking a whole audit store: every chain, the registry, every checkpoint (Art. 28).

`verify_store` is what `govgate audit verify` runs. In order, it finds:

1. a chain that holds records or a head but is not registered (written behind the gateway's
   back), and a registration that does not carry the gateway's signature;
2. a registered chain whose head is gone (the chain deleted whole);
3. a checkpoint edited or forged (its digest or signature does not hold), or naming a chain
   the registry does not know (the chain and its registration deleted);
4. in each chain, record by record: a record modified, deleted, inserted or reordered
   (`ChainWalker`), a record that disagrees with a checkpoint's head or an anchor or a witnessed
   head; at its end, a head that does not match, is not signed, or lies before a head that a
   checkpoint or witness names (the chain cut back and its head signed again);
5. a checkpoint a witness holds that the store no longer holds, or holds changed.

Memory: the heads the checkpoints name (one pair per chain that moved per checkpoint), not the
records, which are streamed.
"""

from __future__ import annotations

from collections import defaultdict
from contextlib import aclosing
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gateway.trust.audit.chain import ChainProblem, ChainWalker
from gateway.trust.audit.chains import LEGACY_CHAIN, chain_payload, checkpoint_signed_bytes
from gateway.trust.audit.store import head_payload
from gateway.trust.audit.witness_check import WitnessCheck
from gateway.trust.vouchers import verify_signature

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from gateway.trust.audit.chain import StoredRecord
    from gateway.trust.audit.chains import ChainRegistration, Checkpoint
    from gateway.trust.audit.store import AuditStore, SignedHead
    from gateway.trust.audit.witness import WitnessedHead

__all__ = ["StoreVerdict", "verify_store"]


@dataclass(frozen=True, slots=True)
class StoreVerdict:
    """The outcome of checking a whole store."""

    #: Records checked, over every chain.
    checked: int
    chains: int
    checkpoints: int
    #: The last record of the chain checked last (of the only chain, on a one-chain store).
    last_seq: int
    problem: ChainProblem | None
    #: The chain the problem is in (None: no problem, or the registry or a checkpoint).
    chain: int | None = None

    @property
    def ok(self) -> bool:
        """True when every chain, registration and checkpoint holds."""
        return self.problem is None


async def verify_store(
    store: AuditStore,
    keys: Mapping[str, str],
    *,
    anchors: Mapping[tuple[int, int], str] | None = None,
    witnessed: Sequence[tuple[str, WitnessedHead]] = (),
    progress: Callable[[], object] | None = None,
) -> StoreVerdict:
    """Check every chain of `store` against its head, the checkpoints, `anchors` ((chain, seq)
    → hash) and the `witnessed` heads; the first problem found. Signatures are checked with
    `keys` (key id → public key)."""
    anchors = anchors or {}
    registry = {r.chain: r for r in await store.chains()}
    heads = await store.heads()
    counts = await store.counts()
    several = len(registry.keys() | heads.keys() | counts.keys()) > 1
    checkpoints = [c async for c in store.checkpoints()]

    def verdict(problem: ChainProblem | None, chain: int | None, checked: int = 0,
                last: int = 0) -> StoreVerdict:  # fmt: skip
        if problem is not None and chain is not None and several:
            problem = ChainProblem(problem.seq, problem.kind,
                                   f"Chain {chain}: {problem.message}", problem.last)  # fmt: skip
        return StoreVerdict(checked, len(registry), len(checkpoints), last, problem, chain)

    in_registry = _registry_problem(registry, heads, counts, keys)
    if in_registry is not None:
        return verdict(*in_registry)
    expected, problem = _checkpoint_heads(checkpoints, registry, keys)
    if problem is not None:
        return verdict(problem, None)
    by_chain: dict[int, list[tuple[str, WitnessedHead]]] = defaultdict(list)
    for name, seen in witnessed:
        number = _chain_number(seen.chain)
        if number is not None:
            by_chain[number].append((name, seen))
    checked = last = 0
    for chain in sorted(registry):
        walker = ChainWalker()
        against = _Against(expected.get(chain, {}), {s: h for (c, s), h in anchors.items()
                                                      if c == chain})  # fmt: skip
        witness = WitnessCheck(by_chain.get(chain, []))
        problem = None
        async with aclosing(store.records(chain=chain)) as records:
            async for record in records:
                problem = walker.feed(record) or against.feed(record) or witness.feed(record)
                if progress is not None:
                    progress()
                if problem is not None:
                    break
        head = heads[chain]
        if problem is None:
            problem = walker.finish((head.seq, head.hash))
        if problem is None:  # before the head's signature: a re-signed head passes that
            problem = against.finish(walker.last_seq) or witness.finish(walker.last_seq)
        if problem is None and head.seq > 0:
            problem = _head_signature_problem(head, keys)
        checked += walker.checked
        last = walker.last_seq
        if problem is not None:
            return verdict(problem, chain, checked, last)
    # After the chains: a record a witnessed head names is the more precise finding.
    problem = _witnessed_checkpoints(witnessed, {c.id: c for c in checkpoints})
    return verdict(problem, None, checked, last)


def _chain_number(name: str) -> int | None:
    """The chain a witnessed head's `chain` names: `main` is chain 1 (the name before chains)."""
    if name == "main":
        return LEGACY_CHAIN
    return int(name) if name.isdigit() else None


def _registry_problem(
    registry: Mapping[int, ChainRegistration],
    heads: Mapping[int, SignedHead],
    counts: Mapping[int, int],
    keys: Mapping[str, str],
) -> tuple[ChainProblem, int] | None:
    for chain in sorted(heads.keys() | counts.keys()):
        if chain not in registry:
            return ChainProblem(
                1, "inserted",
                f"Chain {chain} holds {counts.get(chain, 0):,} records but is not in the "
                "registry of chains: it was written behind the gateway's back.",
            ), chain  # fmt: skip
    for chain, registration in sorted(registry.items()):
        if chain not in heads:
            what = (f"its head is gone but {counts[chain]:,} of its records remain"
                    if counts.get(chain) else "its head and every record are gone")  # fmt: skip
            return ChainProblem(
                1, "deleted",
                f"Chain {chain} was deleted: the registry says {registration.host} (process "
                f"{registration.pid}) opened it at {registration.opened_at}, but {what}.",
            ), chain  # fmt: skip
        legacy = chain == LEGACY_CHAIN and registration.host == "legacy"
        if legacy and registration.signature is None:
            continue  # registered by a tool without the key when the old store was opened
        public = keys.get(registration.key_id or "")
        payload = chain_payload(chain, registration.opened_at, registration.host,
                                registration.pid)  # fmt: skip
        if public is None and registration.key_id is not None:
            return ChainProblem(
                1, "modified",
                f"Chain {chain}'s registration is signed with key {registration.key_id}, which "
                "is not among the gateway's public keys; pass the published keys with --keys, "
                "or the chain was registered outside the gateway.",
            ), chain  # fmt: skip
        if (
            public is None
            or registration.signature is None
            or not verify_signature(public, payload, registration.signature)
        ):
            return ChainProblem(
                1, "inserted",
                f"Chain {chain}'s registration does not carry the gateway's signature (or is "
                "signed with a key not among its public keys; pass them with --keys): it was "
                "registered or changed outside the gateway.",
            ), chain  # fmt: skip
    return None


def _checkpoint_heads(
    checkpoints: Sequence[Checkpoint],
    registry: Mapping[int, ChainRegistration],
    keys: Mapping[str, str],
) -> tuple[dict[int, dict[int, tuple[int, str]]], ChainProblem | None]:
    """Per chain, seq → (checkpoint id, hash) of every head the checkpoints name."""
    expected: dict[int, dict[int, tuple[int, str]]] = defaultdict(dict)
    for checkpoint in checkpoints:
        named = checkpoint.heads()
        number = checkpoint.id
        if named is None or checkpoint.recomputed_digest() != checkpoint.digest:
            return expected, ChainProblem(
                1, "modified",
                f"Checkpoint {number} (made {checkpoint.at} by {checkpoint.made_by}) was edited: "
                "what it holds no longer matches its digest.",
            )  # fmt: skip
        public = keys.get(checkpoint.key_id or "")
        if (
            public is None
            or checkpoint.signature is None
            or not verify_signature(
                public, checkpoint_signed_bytes(checkpoint.digest), checkpoint.signature
            )
        ):
            return expected, ChainProblem(
                1, "inserted",
                f"Checkpoint {number} (made {checkpoint.at}) does not carry the gateway's "
                "signature over its digest: it was forged or rewritten outside the gateway "
                "(or signed with a key not among the public keys; pass them with --keys).",
            )  # fmt: skip
        for chain, (seq, digest) in named.items():
            if chain not in registry:
                return expected, ChainProblem(
                    1, "deleted",
                    f"Chain {chain} was deleted with its registration: checkpoint {number} "
                    f"(made {checkpoint.at}) names its record {seq}.",
                )  # fmt: skip
            expected[chain].setdefault(seq, (number, digest))
    return expected, None


def _witnessed_checkpoints(
    witnessed: Sequence[tuple[str, WitnessedHead]], stored: Mapping[int, Checkpoint]
) -> ChainProblem | None:
    """Every checkpoint a witness holds must still be in the store, unchanged."""
    for name, head in witnessed:
        if head.chain != "checkpoint":
            continue
        found = stored.get(head.seq)
        if found is None or found.digest != head.hash:
            what = "is gone" if found is None else "holds another digest"
            return ChainProblem(
                1, "rewritten",
                f"{name} holds the gateway's signed checkpoint {head.seq} (digest "
                f"{head.hash[:16]}..., published {head.published_at or 'at an unknown time'}), "
                f"but the store's checkpoint {head.seq} {what}: the checkpoints were rewritten.",
            )  # fmt: skip
    return None


class _Against:
    """A chain's records against the heads checkpoints name and the anchors an auditor kept."""

    def __init__(self, checkpoints: Mapping[int, tuple[int, str]], anchors: Mapping[int, str]):
        self.checkpoints = checkpoints
        self.anchors = anchors

    def feed(self, record: StoredRecord) -> ChainProblem | None:
        named = self.checkpoints.get(record.seq)
        if named is not None and named[1] != record.hash:
            return ChainProblem(
                record.seq, "rewritten",
                f"Record {record.seq} is not the record checkpoint {named[0]} names (hash "
                f"{named[1][:16]}...): the chain was rewritten from there on and its head "
                "signed again.",
            )  # fmt: skip
        expected = self.anchors.get(record.seq)
        if expected is not None and expected != record.hash:
            return ChainProblem(
                record.seq, "modified",
                f"Record {record.seq} is not the record the anchor names (hash "
                f"{expected[:16]}...): the log was rewritten from there on.",
            )  # fmt: skip
        return None

    def finish(self, last_seq: int) -> ChainProblem | None:
        later = [s for s in self.checkpoints if s > last_seq]
        if later:
            seq = max(later)
            return ChainProblem(
                last_seq + 1, "deleted",
                f"Records after {last_seq} were deleted (the chain was cut back and its head "
                f"signed again): checkpoint {self.checkpoints[seq][0]} names its record {seq}.",
            )  # fmt: skip
        if self.anchors and max(self.anchors) > last_seq:
            lost = max(self.anchors)
            return ChainProblem(
                last_seq + 1, "deleted",
                f"Record {lost}, which an anchor names, is gone: the log ends at record "
                f"{last_seq}, so it was cut back (to an older signed head).",
            )  # fmt: skip
        return None


def _head_signature_problem(head: SignedHead, keys: Mapping[str, str]) -> ChainProblem | None:
    """The head must carry the gateway's signature: without the private key, a rewritten chain
    (records and hashes recomputed from some point on) cannot get a valid one."""
    if head.key_id is None or head.signature is None:
        return ChainProblem(
            head.seq, "modified",
            "The chain head carries no signature: it was reset or rewritten outside the gateway.",
        )  # fmt: skip
    public = keys.get(head.key_id)
    if public is None:
        return ChainProblem(
            head.seq, "modified",
            f"The chain head is signed with key {head.key_id}, which is not among the gateway's "
            "public keys; pass the published keys with --keys, or the log was rewritten.",
        )  # fmt: skip
    if not verify_signature(public, head_payload(head.seq, head.hash, head.chain),
                            head.signature):  # fmt: skip
        return ChainProblem(
            head.seq, "modified",
            f"The chain head's signature does not match record {head.seq} and its hash: the log "
            "was rewritten (records and hashes recomputed) up to its end.",
        )  # fmt: skip
    return None
