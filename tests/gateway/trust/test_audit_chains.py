"""One chain per writer, the registry and the checkpoints: every chain verifies, and deleting,
editing or rolling back any of them is caught (Art. 28). On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import hashlib
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import create_async_engine

from gateway.trust.audit import AuditEntry, AuditStore, AuditWriter, Operation
from gateway.trust.audit.chain import GENESIS, link_hash_of
from gateway.trust.audit.chains import checkpoint_digest, checkpoint_signed_bytes, heads_text
from gateway.trust.audit.encoding import encode
from gateway.trust.audit.publisher import WitnessPublisher
from gateway.trust.audit.store import ChainConflictError, _columns, _OpenChain, head_payload
from gateway.trust.audit.verify import StoreVerdict, verify_store
from gateway.trust.audit.witness import FileWitness
from gateway.trust.audit.witness_check import read_witnesses
from gateway.trust.keyring import Keyring

if TYPE_CHECKING:
    from pathlib import Path

TABLES = ("audit_log", "audit_chains", "audit_checkpoints")


def entry(number: int, agency: str = "GZ-PSB") -> AuditEntry:
    return AuditEntry(
        at=f"2026-11-02T08:00:{number % 60:02d}.{number:06d}Z",
        request_id=f"req-{number}",
        endpoint="/graphql",
        decision="allowed",
        agency=agency,
        operations=(Operation("Lookup", "ab" * 32),),
        fields=("Person.name",),
        records=(f"Person:{number:018d}",),
        policy_version="v1",
    )


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'audit.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def keyring(tmp_path: Path) -> Keyring:
    return Keyring.open(tmp_path / "keys")


async def two_writers(url: str, keyring: Keyring, each: int = 12) -> tuple[int, int]:
    """Two writers (two stores, as two processes have) appending at once, in batches of three,
    each with its checkpoints; their chains."""
    stores = [AuditStore(url, signer=keyring.sign) for _ in range(2)]
    await stores[0].create()
    await stores[1].create()

    async def write(store: AuditStore, base: int) -> None:
        for start in range(0, each, 3):
            await store.append([entry(base + n) for n in range(start, start + 3)])
            await store.checkpoint()

    try:
        await asyncio.gather(write(stores[0], 0), write(stores[1], 1_000))
        chains = stores[0].chain, stores[1].chain
    finally:
        for store in stores:
            await store.close()
    assert chains[0] is not None
    assert chains[1] is not None
    return chains[0], chains[1]


async def check(url: str, keyring: Keyring) -> StoreVerdict:
    store = AuditStore(url)
    try:
        return await verify_store(store, keyring.public_keys())
    finally:
        await store.close()


async def tamper(url: str, *statements: str) -> None:
    """What someone with the database's owner rights could do: lift the triggers, change rows."""
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            sqlite = connection.dialect.name == "sqlite"
            for table in TABLES:
                if sqlite:
                    for verb in ("update", "delete"):
                        await connection.execute(text(f"DROP TRIGGER {table}_no_{verb}"))
                else:
                    await connection.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
            for statement in statements:
                await connection.execute(text(statement))
    finally:
        await engine.dispose()


def test_two_writers_each_append_to_their_own_chain_and_all_verify(
    url: str, keyring: Keyring
) -> None:
    async def go() -> None:
        first, second = await two_writers(url, keyring)
        assert first != second
        store = AuditStore(url)
        try:
            assert await store.counts() == {first: 12, second: 12}
            assert [r.chain for r in await store.chains()] == sorted((first, second))
            heads = await store.heads()
            assert (heads[first].seq, heads[second].seq) == (12, 12)
            seqs = [r.seq async for r in store.records(chain=second)]
            assert seqs == list(range(1, 13))  # each chain numbered on its own, no gap
            everything = [(r.content["at"], r.chain) async for r in store.records()]
            assert everything == sorted(everything)  # across chains: by time, then chain
            checkpoints = [c async for c in store.checkpoints()]
        finally:
            await store.close()
        assert len(checkpoints) >= 8
        verdict = await check(url, keyring)
        assert verdict.ok, verdict.problem
        assert (verdict.checked, verdict.chains) == (24, 2)

    asyncio.run(go())


@pytest.mark.parametrize(
    ("statements", "found"),
    [
        pytest.param(
            [
                "UPDATE audit_log SET content = replace(content, 'Person.name', 'Person.phone') "
                "WHERE chain = {second} AND seq = 5"
            ],
            "Chain {second}: Record 5 was modified",
            id="record-edited",
        ),
        pytest.param(
            ["DELETE FROM audit_log WHERE chain = {second} AND seq = 4"],
            "Chain {second}: Record 4 was deleted",
            id="record-deleted",
        ),
        pytest.param(
            [
                "DELETE FROM audit_log WHERE chain = {second}",
                "DELETE FROM audit_head WHERE id = {second}",
            ],
            "Chain {second} was deleted: the registry says",
            id="chain-deleted",
        ),
        pytest.param(
            [
                "DELETE FROM audit_log WHERE chain = {second}",
                "DELETE FROM audit_head WHERE id = {second}",
                "DELETE FROM audit_chains WHERE chain = {second}",
            ],
            "Chain {second} was deleted with its registration: checkpoint",
            id="chain-and-registration-deleted",
        ),
        pytest.param(
            [
                "UPDATE audit_checkpoints SET heads = replace(heads, '[', '[1') "
                "WHERE id = (SELECT min(id) FROM audit_checkpoints)"
            ],
            "was edited: what it holds no longer matches its digest",
            id="checkpoint-edited",
        ),
        pytest.param(
            [
                "DELETE FROM audit_log WHERE chain = {second} AND seq > 6",
                "UPDATE audit_head SET seq = 6, hash = (SELECT hash FROM audit_log WHERE "
                "chain = {second} AND seq = 6) WHERE id = {second}",
            ],
            "Chain {second}: Records after 6 were deleted (the chain was cut back",
            id="head-rolled-back",
        ),
        pytest.param(
            [
                "INSERT INTO audit_log (chain, seq, at, agency, decision, content, prev_hash, hash)"
                " SELECT 77, seq, at, agency, decision, content, prev_hash, hash FROM audit_log "
                "WHERE chain = {second}"
            ],
            "Chain 77 holds 12 records but is not in the registry",
            id="unregistered-chain",
        ),
    ],
)
def test_tampering_with_any_chain_is_caught(
    url: str, keyring: Keyring, statements: list[str], found: str
) -> None:
    async def go() -> tuple[StoreVerdict, int]:
        _, second = await two_writers(url, keyring)
        await tamper(url, *(s.format(second=second) for s in statements))
        return await check(url, keyring), second

    verdict, second = asyncio.run(go())
    assert verdict.problem is not None
    assert found.format(second=second) in verdict.problem.message


def test_a_head_rolled_back_and_re_signed_is_caught_by_a_checkpoint(
    url: str, keyring: Keyring
) -> None:
    # The insider holds the key: the rolled-back head carries a valid signature. The
    # checkpoint that named record 12 still says the chain went further.
    async def go() -> StoreVerdict:
        _, second = await two_writers(url, keyring)
        store = AuditStore(url)
        try:
            old = [r async for r in store.records(chain=second)][5]
        finally:
            await store.close()
        key_id, signature = keyring.sign(head_payload(6, old.hash, second))
        await tamper(
            url,
            f"DELETE FROM audit_log WHERE chain = {second} AND seq > 6",
            f"UPDATE audit_head SET seq = 6, hash = '{old.hash}', key_id = '{key_id}', "
            f"signature = '{signature}' WHERE id = {second}",
        )
        return await check(url, keyring)

    verdict = asyncio.run(go())
    assert verdict.problem is not None
    assert "Records after 6 were deleted (the chain was cut back" in verdict.problem.message
    assert "names its record 12" in verdict.problem.message


def test_a_forged_checkpoint_is_caught(url: str, keyring: Keyring, tmp_path: Path) -> None:
    # Consistent digest, but signed with a key that is not the gateway's.
    other = Keyring.open(tmp_path / "other-keys")

    async def go() -> StoreVerdict:
        first, _ = await two_writers(url, keyring)
        at, by = "2026-11-03T00:00:00.000000Z", "forger:1"
        heads = heads_text({first: (1, "0" * 64)})
        digest = checkpoint_digest(at, first, by, heads)
        key_id, signature = other.sign(checkpoint_signed_bytes(digest))
        await tamper(
            url,
            "INSERT INTO audit_checkpoints (at, chain, made_by, heads, digest, key_id, signature)"
            f" VALUES ('{at}', {first}, '{by}', '{heads}', '{digest}', '{key_id}', '{signature}')",
        )
        return await check(url, keyring)

    verdict = asyncio.run(go())
    assert verdict.problem is not None
    assert "does not carry the gateway's signature over its digest" in verdict.problem.message


def test_the_writer_signs_checkpoints_while_it_writes(url: str, keyring: Keyring) -> None:
    async def go() -> tuple[int, int, StoreVerdict]:
        store = AuditStore(url, signer=keyring.sign)
        await store.create()
        writer = AuditWriter(store, checkpoint_interval_s=0.05)
        writer.start()
        for n in range(5):
            await writer.record(entry(n))
            await asyncio.sleep(0.08)
        await writer.close()
        made = writer.checkpoints
        await store.close()
        reader = AuditStore(url)
        try:
            stored = len([c async for c in reader.checkpoints()])
        finally:
            await reader.close()
        return made, stored, await check(url, keyring)

    made, stored, verdict = asyncio.run(go())
    assert made >= 3  # about one per interval while records were written, and one at close
    assert stored == made
    assert verdict.ok, verdict.problem


# -- a store written by the single-chain gateway ------------------------------------------------

#: The old gateway's tables, as it created them (seq the key, one head row).
OLD_TABLES = (
    "CREATE TABLE audit_log (seq {seq} PRIMARY KEY, at VARCHAR(32) NOT NULL, "
    "agency VARCHAR(40), decision VARCHAR(16) NOT NULL, content TEXT NOT NULL, "
    "prev_hash VARCHAR(64) NOT NULL, hash VARCHAR(64) NOT NULL)",
    "CREATE TABLE audit_head (id INTEGER PRIMARY KEY, seq BIGINT NOT NULL, "
    "hash VARCHAR(64) NOT NULL, key_id VARCHAR(32), signature VARCHAR(128))",
)


async def old_store(url: str, keyring: Keyring, records: int) -> None:
    """What the single-chain gateway left: `records` records chained and the head signed."""
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            sqlite = connection.dialect.name == "sqlite"
            for statement in OLD_TABLES:
                await connection.execute(
                    text(statement.format(seq="INTEGER" if sqlite else "BIGINT"))
                )
            prev = GENESIS
            for seq in range(1, records + 1):
                encoded = encode(entry(seq))
                digest = link_hash_of(prev, encoded.text)
                await connection.execute(
                    text(
                        "INSERT INTO audit_log (seq, at, agency, decision, content, prev_hash, "
                        "hash) VALUES (:seq, :at, :agency, 'allowed', :content, :prev, :hash)"
                    ),
                    {"seq": seq, "at": encoded.entry.at, "agency": encoded.entry.agency,
                     "content": encoded.text.decode(), "prev": prev, "hash": digest},
                )  # fmt: skip
                prev = digest
            key_id, signature = keyring.sign(head_payload(records, prev))
            await connection.execute(
                text("INSERT INTO audit_head VALUES (1, :s, :h, :k, :g)"),
                {"s": records, "h": prev, "k": key_id, "g": signature},
            )
    finally:
        await engine.dispose()


def test_a_store_of_the_single_chain_gateway_opens_appends_and_verifies(
    url: str, keyring: Keyring
) -> None:
    async def go() -> None:
        await old_store(url, keyring, 7)
        # An auditor verifies it as it is, before any new gateway opened it: read only.
        untouched = await check(url, keyring)
        assert untouched.ok, untouched.problem
        assert (untouched.checked, untouched.chains) == (7, 1)
        reader = AuditStore(url)
        try:
            assert [r.seq async for r in reader.records()] == list(range(1, 8))
            assert await reader.counts() == {1: 7}
            async with reader.engine.connect() as connection:
                columns, _ = await _columns(connection, "audit_log")
            assert "chain" not in columns  # verifying changed nothing
        finally:
            await reader.close()
        first, second = await two_writers(url, keyring, each=6)
        store = AuditStore(url)
        try:
            counts = await store.counts()
            legacy = [r for r in await store.chains() if r.chain == 1]
        finally:
            await store.close()
        assert legacy[0].host == "legacy"  # the old records are chain 1, registered
        if url.startswith("sqlite"):
            # `seq` is the old table's row id: every writer goes on appending to chain 1.
            assert (first, second) == (1, 1)
            assert counts == {1: 19}
        else:
            # PostgreSQL took the key (chain, seq): each writer has its own chain again.
            assert {first, second} == {2, 3}
            assert counts == {1: 7, 2: 6, 3: 6}
        verdict = await check(url, keyring)
        assert verdict.ok, verdict.problem
        assert verdict.checked == 19
        await tamper(url, "UPDATE audit_log SET agency = 'TH-CA' WHERE chain = 1 AND seq = 3")
        broken = await check(url, keyring)
        assert broken.problem is not None
        assert "Record 3 was modified" in broken.problem.message

    asyncio.run(go())


def test_checkpoint_digest_covers_every_member() -> None:
    base = ("2026-11-03T00:00:00.000000Z", 2, "host:1", heads_text({2: (3, "a" * 64)}))
    digest = checkpoint_digest(*base)
    assert (
        digest
        == hashlib.sha256(
            b"govgate-audit-checkpoint-v1\n2026-11-03T00:00:00.000000Z\n2\nhost:1\n"
            + heads_text({2: (3, "a" * 64)}).encode()
        ).hexdigest()
    )
    for changed in (("x", *base[1:]), (base[0], 3, *base[2:]), (*base[:2], "h:2", base[3])):
        assert checkpoint_digest(*changed) != digest


def test_a_second_writer_on_one_chain_writes_nothing_and_forks_nothing(
    url: str, keyring: Keyring
) -> None:
    # Never done by the gateway (one chain per store); if it ever were, the second append
    # must fail whole rather than fork the chain. The stale writer is made by hand.
    async def go() -> tuple[dict[int, int], StoreVerdict]:
        first = AuditStore(url, signer=keyring.sign)
        await first.create()
        await first.append([entry(n) for n in range(3)])
        stale = AuditStore(url, signer=keyring.sign)
        stale._chain = _OpenChain(first.chain or 0)  # believes the chain is still empty
        with pytest.raises((ChainConflictError, IntegrityError)):
            await stale.append([entry(n) for n in range(10, 12)])
        # Believes the chain is further on: no record collides, the head check refuses it.
        stale._chain = _OpenChain(first.chain or 0, seq=10, hash="f" * 64)
        with pytest.raises(ChainConflictError, match="moved under its writer"):
            await stale.append([entry(n) for n in range(10, 12)])
        await first.append([entry(3)])  # the chain's own writer goes on
        counts = await first.counts()
        await stale.close()
        await first.close()
        return counts, await check(url, keyring)

    counts, verdict = asyncio.run(go())
    assert counts == {1: 4}
    assert verdict.ok, verdict.problem


def test_a_checkpoint_a_witness_kept_must_still_be_in_the_store(
    url: str, keyring: Keyring, tmp_path: Path
) -> None:
    # The insider deletes the checkpoints (so none names the cut); the witness kept one.
    witness = tmp_path / "witness.jsonl"

    async def go() -> tuple[StoreVerdict, StoreVerdict]:
        store = AuditStore(url, signer=keyring.sign)
        await store.create()
        publisher = WitnessPublisher(store, [FileWitness(witness)], every=1, interval_s=60,
                                     timeout_s=5, clock=lambda: "2026-11-26T08:00:00Z")  # fmt: skip
        await store.append([entry(n) for n in range(4)])
        await store.checkpoint()
        await publisher.publish()
        await publisher.wait()
        await store.close()
        report = await read_witnesses([str(witness)], keyring.public_keys())
        reader = AuditStore(url)
        try:
            intact = await verify_store(reader, keyring.public_keys(), witnessed=report.heads)
        finally:
            await reader.close()
        await tamper(url, "DELETE FROM audit_checkpoints")
        reader = AuditStore(url)
        try:
            cut = await verify_store(reader, keyring.public_keys(), witnessed=report.heads)
        finally:
            await reader.close()
        return intact, cut

    intact, cut = asyncio.run(go())
    assert intact.ok, intact.problem
    assert '"chain":"checkpoint"' in witness.read_text("utf-8")
    assert cut.problem is not None
    assert "but the store's checkpoint 1 is gone" in cut.problem.message
