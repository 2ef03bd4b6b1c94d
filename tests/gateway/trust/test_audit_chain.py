"""The audit log's hash chain: every kind of tampering is found and named (Art. 28)."""

from __future__ import annotations

import asyncio
import itertools
import json
import sqlite3
from contextlib import closing
from typing import TYPE_CHECKING

import pytest
from click.testing import CliRunner
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from gateway.cli import main
from gateway.trust.audit import AuditEntry, AuditStore, Operation, verify_chain
from gateway.trust.audit.chain import link_hash
from gateway.trust.audit.entry import canonical
from gateway.trust.vouchers import Keyring

if TYPE_CHECKING:
    from pathlib import Path

    from gateway.trust.audit.store import SignedHead


def entry(number: int, agency: str = "GZ-PSB") -> AuditEntry:
    return AuditEntry(
        at=f"2026-11-{1 + number % 28:02d}T08:00:00.{number:06d}Z",
        request_id=f"req-{number}",
        endpoint="/graphql",
        decision="allowed",
        agency=agency,
        operations=(Operation("Lookup", "ab" * 32),),
        fields=("Person.name",),
        records=(f"Person:{number:018d}",),
        policy_version="v1",
        latency_us=1000 + number,
    )


def fill(url: str, count: int = 10, keys: Path | None = None) -> None:
    """`count` records in batches of four, the head signed with the keyring in `keys`."""
    signer = Keyring.open(keys).sign if keys else None

    async def go() -> None:
        store = AuditStore(url, signer=signer)
        await store.create()
        for start in range(0, count, 4):  # several batches, as the writer makes them
            await store.append([entry(n) for n in range(start, min(start + 4, count))])
        await store.close()

    asyncio.run(go())


@pytest.fixture
def audit_dir(tmp_path: Path) -> Path:
    # Where `--data DIR` looks: DIR/audit.db, signed by the keys in DIR/keys/gateway.
    fill(f"sqlite+aiosqlite:///{tmp_path / 'audit.db'}", keys=tmp_path / "keys" / "gateway")
    return tmp_path


def tamper(folder: Path, *statements: str) -> None:
    """What someone with write access to the database could do: drop the triggers, change rows."""
    with closing(sqlite3.connect(folder / "audit.db")) as db, db:
        db.execute("DROP TRIGGER audit_log_no_update")
        db.execute("DROP TRIGGER audit_log_no_delete")
        for statement in statements:
            db.execute(statement)


def verify(folder: Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["audit", "verify", "--data", str(folder)])
    return result.exit_code, result.output


def test_an_untouched_log_verifies(audit_dir: Path) -> None:
    code, output = verify(audit_dir)
    assert code == 0, output
    assert "intact: 10 records" in output


def test_the_log_refuses_updates_and_deletes(audit_dir: Path) -> None:
    with closing(sqlite3.connect(audit_dir / "audit.db")) as db:
        for statement in ("UPDATE audit_log SET agency = 'X' WHERE seq = 3",
                          "DELETE FROM audit_log WHERE seq = 3"):  # fmt: skip
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                db.execute(statement)


def test_a_modified_record_is_named(audit_dir: Path) -> None:
    tamper(audit_dir, "UPDATE audit_log SET content = replace(content, 'Person.name', "
                      "'Person.phone') WHERE seq = 4")  # fmt: skip
    code, output = verify(audit_dir)
    assert code == 1
    assert "Record 4 was modified" in output


def test_a_changed_copy_column_counts_as_a_modification(audit_dir: Path) -> None:
    # Reports filter on the agency column: changing it alone must not go unnoticed.
    tamper(audit_dir, "UPDATE audit_log SET agency = 'TH-CA' WHERE seq = 6")
    code, output = verify(audit_dir)
    assert code == 1
    assert "Record 6 was modified" in output


def test_an_agency_changed_inside_the_stored_record_is_named(audit_dir: Path) -> None:
    # The column still says GZ-PSB; only the hashed text changes. The verifier used to put the
    # column's value back into the record before hashing, and found nothing.
    tamper(audit_dir, "UPDATE audit_log SET content = replace(content, '\"agency\":\"GZ-PSB\"', "
                      "'\"agency\":\"TH-CA\"') WHERE seq = 5")  # fmt: skip
    code, output = verify(audit_dir)
    assert code == 1, output
    assert "Record 5 was modified: its contents no longer match its hash" in output


def test_a_decision_changed_inside_the_stored_record_is_named(audit_dir: Path) -> None:
    tamper(audit_dir, "UPDATE audit_log SET content = replace(content, '\"decision\":\"allowed\"',"
                      " '\"decision\":\"refused\"') WHERE seq = 2")  # fmt: skip
    code, output = verify(audit_dir)
    assert code == 1, output
    assert "Record 2 was modified" in output


def test_a_changed_column_is_named_with_what_it_says_and_what_the_record_says(
    audit_dir: Path,
) -> None:
    tamper(audit_dir, "UPDATE audit_log SET decision = 'refused' WHERE seq = 7")
    code, output = verify(audit_dir)
    assert code == 1, output
    assert "Record 7 was modified: its decision column says 'refused' but the record" in output
    assert "says 'allowed'" in output


def test_a_deleted_record_is_named(audit_dir: Path) -> None:
    tamper(audit_dir, "DELETE FROM audit_log WHERE seq = 5")
    code, output = verify(audit_dir)
    assert code == 1
    assert "Record 5 was deleted: record 6 follows record 4" in output


def test_deleting_and_renumbering_is_still_found(audit_dir: Path) -> None:
    tamper(audit_dir, "DELETE FROM audit_log WHERE seq = 5",
           "UPDATE audit_log SET seq = seq - 1 WHERE seq > 5",
           "UPDATE audit_head SET seq = seq - 1")  # fmt: skip
    code, output = verify(audit_dir)
    assert code == 1
    assert "The chain breaks between record 4 and record 5" in output


def test_a_reordered_pair_is_named(audit_dir: Path) -> None:
    tamper(audit_dir, "UPDATE audit_log SET seq = -1 WHERE seq = 7",
           "UPDATE audit_log SET seq = 7 WHERE seq = 8",
           "UPDATE audit_log SET seq = 8 WHERE seq = -1")  # fmt: skip
    code, output = verify(audit_dir)
    assert code == 1
    assert "Records 7 and 8 were reordered" in output


def test_an_inserted_record_is_named(audit_dir: Path) -> None:
    # A forger who copies record 2 (hash and all) into the middle, shifting the rest along.
    tamper(audit_dir, "UPDATE audit_log SET seq = seq + 100 WHERE seq > 5",
           "UPDATE audit_log SET seq = seq - 99 WHERE seq > 100",
           "INSERT INTO audit_log SELECT chain, 6, at, agency, decision, content, prev_hash, hash "
           "FROM audit_log WHERE seq = 2")  # fmt: skip
    code, output = verify(audit_dir)
    assert code == 1
    assert "Record 6 was inserted" in output


def test_cutting_off_the_end_is_found(audit_dir: Path) -> None:
    tamper(audit_dir, "DELETE FROM audit_log WHERE seq >= 9")
    code, output = verify(audit_dir)
    assert code == 1
    assert "Records after 8 were deleted" in output


def rewrite_from(folder: Path, seq: int) -> None:
    """The strongest forgery without the key: change record `seq`, then recompute every hash
    after it and the head, so that every link holds again."""
    with closing(sqlite3.connect(folder / "audit.db")) as db, db:
        db.execute("DROP TRIGGER audit_log_no_update")
        rows = db.execute("SELECT seq, prev_hash, content FROM audit_log WHERE seq >= ? "
                          "ORDER BY seq", (seq,)).fetchall()  # fmt: skip
        prev = rows[0][1]
        for number, _, text_ in rows:
            content = json.loads(text_)
            if number == seq:
                content["agency"] = "TH-CA"
            digest = link_hash(prev, content)
            values = (canonical(content).decode(), content["agency"], prev, digest, number)
            db.execute("UPDATE audit_log SET content = ?, agency = ?, prev_hash = ?, hash = ? "
                       "WHERE seq = ?", values)  # fmt: skip
            prev = digest
        db.execute("UPDATE audit_head SET hash = ?", (prev,))


def test_a_chain_rewritten_to_its_end_fails_on_the_signed_head(audit_dir: Path) -> None:
    rewrite_from(audit_dir, 4)
    code, output = verify(audit_dir)
    assert code == 1
    assert "chain head's signature does not match record 10" in output


def test_an_auditor_verifies_with_the_published_keys_alone(audit_dir: Path, tmp_path: Path) -> None:
    printed = CliRunner().invoke(main, ["voucher", "keys", "--data", str(audit_dir)])
    assert printed.exit_code == 0, printed.output
    keys = tmp_path / "published.json"
    keys.write_text(printed.stdout, "utf-8")
    args = ["audit", "verify", "--data", str(audit_dir), "--keys", str(keys)]
    assert CliRunner().invoke(main, args).exit_code == 0
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"keys": {}}), "utf-8")
    refused = CliRunner().invoke(main, [*args[:-1], str(other)])
    assert refused.exit_code == 1
    assert "not among the gateway's public keys" in refused.output


def test_renumbered_records_are_found_even_with_the_chain_intact(audit_dir: Path) -> None:
    tamper(audit_dir, "UPDATE audit_log SET seq = seq + 1000 WHERE seq > 7")
    code, output = verify(audit_dir)
    assert code == 1
    assert "Record 1008 should be numbered 8" in output


def test_a_record_rewritten_in_another_spelling_is_found(audit_dir: Path) -> None:
    # Same members, same hash, but a duplicate member that some tools read instead.
    tamper(audit_dir, "UPDATE audit_log SET content = '{\"agency\":\"GZ-DATA\",' || "
                      "substr(content, 2) WHERE seq = 3")  # fmt: skip
    code, output = verify(audit_dir)
    assert code == 1
    assert "Record 3 was rewritten" in output


def test_a_log_cut_back_to_an_old_signed_head_fails_against_a_kept_anchor(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'audit.db'}"
    signer = Keyring.open(tmp_path / "keys" / "gateway").sign
    heads: list[SignedHead] = []

    async def go() -> None:
        store = AuditStore(url, signer=signer)  # one writer, one chain: 6 records, then 4
        await store.create()
        await store.append([entry(n) for n in range(6)])
        old = await store.signed_head()
        assert old is not None
        heads.append(old)
        await store.append([entry(n) for n in range(6, 10)])
        await store.close()

    asyncio.run(go())
    assert heads[0].seq == 6
    later = json.loads(CliRunner().invoke(main, ["audit", "head", "--data", str(tmp_path)]).stdout)
    assert later["seq"] == 10
    # An insider removes records 7-10 and puts back the old head, validly signed for record 6.
    old = heads[0]
    tamper(tmp_path, "DELETE FROM audit_log WHERE seq > 6",
           f"UPDATE audit_head SET seq = {old.seq}, hash = '{old.hash}', "
           f"key_id = '{old.key_id}', signature = '{old.signature}'")  # fmt: skip
    assert verify(tmp_path)[0] == 0  # no checkpoint was written: only an anchor shows the cut
    result = CliRunner().invoke(
        main, ["audit", "verify", "--data", str(tmp_path), "--anchor", str(later["anchor"])]
    )
    assert result.exit_code == 1
    assert "Record 10, which an anchor names, is gone" in result.output
    bad = CliRunner().invoke(main, ["audit", "verify", "--data", str(tmp_path), "--anchor", "x"])
    assert bad.exit_code == 2


def test_verify_reports_a_missing_store_clearly(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["audit", "verify", "--data", str(tmp_path / "nowhere")])
    assert result.exit_code == 2
    assert "is not a folder" in result.output


def test_export_writes_one_json_line_per_record_with_its_links(audit_dir: Path) -> None:
    result = CliRunner().invoke(main, ["audit", "export", "--data", str(audit_dir),
                                       "--format", "jsonl"])  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [line["seq"] for line in lines] == list(range(1, 11))
    assert all(b["prevHash"] == a["hash"] for a, b in itertools.pairwise(lines))
    assert lines[0]["records"] == ["Person:000000000000000000"]
    # The export is enough to check the chain without the database.
    from gateway.trust.audit import StoredRecord

    records = [
        StoredRecord(
            line.pop("seq"), line.pop("prevHash"), line.pop("hash"), line, chain=line.pop("chain")
        )
        for line in lines
    ]
    assert verify_chain(records, (10, records[-1].hash)).ok
    records[3].content["agency"] = "TH-CA"
    assert not verify_chain(records, (10, records[-1].hash)).ok


def test_export_keeps_to_the_days_asked_for(audit_dir: Path) -> None:
    result = CliRunner().invoke(main, ["audit", "export", "--data", str(audit_dir),
                                       "--from", "2026-11-03", "--to", "2026-11-04"])  # fmt: skip
    assert result.exit_code == 0, result.output
    days = [json.loads(line)["at"][:10] for line in result.stdout.splitlines()
            if line.startswith("{")]  # fmt: skip
    assert days == ["2026-11-03", "2026-11-04"]


def test_round_trip_of_an_entry_through_its_content() -> None:
    original = entry(7)
    assert AuditEntry.from_content(original.content()) == original


@pytest.mark.postgres
def test_the_chain_holds_and_the_log_is_append_only_on_postgresql(postgres_url: str) -> None:
    fill(postgres_url, 6)

    async def check() -> None:
        store = AuditStore(postgres_url)
        try:
            records = [r async for r in store.records()]
            assert verify_chain(records, await store.head()).ok
            assert len(records) == 6
            async with store.engine.begin() as connection:
                with pytest.raises(DBAPIError, match="append-only"):
                    await connection.execute(text("DELETE FROM audit_log WHERE seq = 2"))
            async with store.engine.begin() as connection:
                await connection.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
                await connection.execute(text("DELETE FROM audit_log WHERE seq = 2"))
            records = [r async for r in store.records()]
            verdict = verify_chain(records, await store.head())
            assert verdict.problem is not None
            assert verdict.problem.kind == "deleted"
            assert verdict.problem.seq == 2
        finally:
            await store.close()

    asyncio.run(check())
