"""Witnesses: the gateway publishes its signed chain head where it cannot rewrite it, and
`audit verify --witness` catches a log rewritten with the gateway's own key (issue 9, item 6)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import socket
import sqlite3
import time
from contextlib import closing
from typing import TYPE_CHECKING

import httpx
import pytest
from click.testing import CliRunner

from gateway.cli import main
from gateway.http.app import create_app
from gateway.settings import ConfigError, Settings, Witnessing, load_settings
from gateway.trust.audit import AuditEntry, AuditStore, Operation
from gateway.trust.audit.chains import checkpoint_signed_bytes
from gateway.trust.audit.publisher import WitnessPublisher
from gateway.trust.audit.store import head_payload
from gateway.trust.audit.witness import FileWitness
from gateway.trust.vouchers import Keyring, verify_signature
from tests.conftest import NOW
from tests.gateway.conftest import LiveServer
from tests.gateway.forgery import named_by_witness, rewrite_with_own_key, witnessed_seqs

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

QUERY = {"query": "{ persons(first: 1) { edges { node { name } } } }"}


def entry(number: int) -> AuditEntry:
    return AuditEntry(
        at=f"2026-11-26T08:00:00.{number:06d}Z", request_id=f"req-{number}", endpoint="/graphql",
        decision="allowed", agency="GZ-PSB", operations=(Operation(None, "ab" * 32),),
        fields=("Person.name",), records=(f"Person:{number:018d}",), policy_version="v1",
    )  # fmt: skip


def verify(folder: Path, *witnesses: str) -> tuple[int, str]:
    args = ["audit", "verify", "--data", str(folder)]
    for witness in witnesses:
        args += ["--witness", witness]
    result = CliRunner().invoke(main, args)
    return result.exit_code, result.output


def published_log(folder: Path, records: int) -> Path:
    """`records` records in `folder`'s audit store, each head published to a witness file."""
    witness_file = folder / "witness" / "heads.jsonl"
    witness_file.parent.mkdir()

    async def go() -> None:
        store = AuditStore(f"sqlite+aiosqlite:///{folder / 'audit.db'}",
                           signer=Keyring.open(folder / "keys" / "gateway").sign)  # fmt: skip
        await store.create()
        publisher = WitnessPublisher(store, [FileWitness(witness_file)], every=1, interval_s=60,
                                     timeout_s=5, clock=lambda: "2026-11-26T08:00:00Z")  # fmt: skip
        for number in range(1, records + 1):
            await store.append([entry(number)])
            await publisher.publish()
            await publisher.wait()
        await store.close()

    asyncio.run(go())
    return witness_file


def test_a_log_rewritten_with_the_gateways_own_key_names_the_first_rewritten_record(
    tmp_path: Path,
) -> None:
    witness = published_log(tmp_path, 40)
    # The attack of issue 9: records deleted, the chain rebuilt, the head signed again.
    left = rewrite_with_own_key(f"sqlite+aiosqlite:///{tmp_path / 'audit.db'}",
                                tmp_path / "keys" / "gateway", first=12, count=5)  # fmt: skip
    assert left == 35
    code, output = verify(tmp_path)
    assert code == 0, output  # on its own the rewritten log holds together
    code, output = verify(tmp_path, str(witness))
    assert code == 1, output
    assert "audit log TAMPERED: Record 12 was rewritten" in output
    assert "first problem at record 12, kind: rewritten" in output
    assert "record 11, the last one a witness saw before it, still agrees" in output


def test_a_log_cut_back_and_signed_again_is_caught_by_the_witness(tmp_path: Path) -> None:
    witness = published_log(tmp_path, 20)
    rewrite_with_own_key(f"sqlite+aiosqlite:///{tmp_path / 'audit.db'}",
                         tmp_path / "keys" / "gateway", first=16, count=5)  # fmt: skip
    assert verify(tmp_path)[0] == 0
    code, output = verify(tmp_path, str(witness))
    assert code == 1, output
    assert "Records from 16 on were deleted (the log was cut back)" in output
    assert "the log's record 16 is gone: the log ends at record 15" in output


def test_an_intact_log_agrees_with_its_witness_and_says_how_far(tmp_path: Path) -> None:
    witness = published_log(tmp_path, 6)
    with witness.open("a", encoding="utf-8") as file:
        file.write("not json\n")  # noise is reported, not trusted, and does not fail the log
        forged = json.loads(witness.read_text("utf-8").splitlines()[0])
        file.write(json.dumps({**forged, "seq": 99, "signature": forged["signature"]}) + "\n")
    code, output = verify(tmp_path, str(witness))
    assert code == 0, output
    assert "It agrees with all 6 heads from 1 witness(es), up to record 6." in output
    assert "heads.jsonl:7: not a witnessed head" in output
    assert "the head of record 99 does not carry the gateway's signature" in output


def test_a_rewrite_is_bounded_by_the_witnessed_heads_around_it(tmp_path: Path) -> None:
    witness = published_log(tmp_path, 30)
    # Keep only every tenth head: the witness then proves a range, not one record.
    kept = [line for line in witness.read_text("utf-8").splitlines()
            if json.loads(line)["seq"] % 10 == 0 and "checkpoint" not in line]  # fmt: skip
    witness.write_text("\n".join(kept) + "\n", "utf-8")
    rewrite_with_own_key(f"sqlite+aiosqlite:///{tmp_path / 'audit.db'}",
                         tmp_path / "keys" / "gateway", first=14, count=2)  # fmt: skip
    code, output = verify(tmp_path, str(witness))
    assert code == 1, output
    assert "The log was rewritten from a record between 11 and 20" in output
    assert "first problem between records 11 and 20" in output


def own_gateway(seeded: Path, folder: Path, **witnessing: object) -> LiveServer:
    settings = dataclasses.replace(
        Settings.demo(seeded),
        audit_url=f"sqlite+aiosqlite:///{folder / 'audit.db'}",
        signing_keys=folder / "keys" / "gateway",
        witnessing=Witnessing(**witnessing),  # type: ignore[arg-type]
    )
    return LiveServer(create_app(settings, clock=lambda: NOW))


def test_a_serving_gateway_publishes_and_verify_catches_a_rewrite_on_sqlite(
    seeded: Path, tmp_path: Path, token_for: Callable[[str], str]
) -> None:
    witness_file = tmp_path / "heads.jsonl"
    witness_db = f"sqlite+aiosqlite:///{tmp_path / 'witness.db'}"
    headers = {"Authorization": f"Bearer {token_for('GZ-PSB')}"}
    with own_gateway(seeded, tmp_path, witnesses=(str(witness_file), witness_db),
                     witness_every=5, witness_interval_s=60) as server:  # fmt: skip
        for _ in range(40):
            answer = server.client.post("/graphql", json=QUERY, headers=headers)
            assert answer.status_code == 200
    with closing(sqlite3.connect(tmp_path / "witness.db")) as db:
        heads = "SELECT seq FROM audit_witness WHERE chain <> 'checkpoint'"
        in_db = sorted({s for (s,) in db.execute(heads)})
    for seqs in (witnessed_seqs(witness_file.read_text("utf-8")), in_db):
        assert seqs[-1] == 40  # the final head, published at shutdown
        assert len(seqs) >= 4  # and others on the way, about one every five records
    left = rewrite_with_own_key(f"sqlite+aiosqlite:///{tmp_path / 'audit.db'}",
                                tmp_path / "keys" / "gateway", first=17, count=10)  # fmt: skip
    assert verify(tmp_path)[0] == 0
    for witness, seqs in ((str(witness_file), witnessed_seqs(witness_file.read_text("utf-8"))),
                          (witness_db, in_db)):  # fmt: skip
        code, output = verify(tmp_path, witness)
        assert code == 1, output
        assert named_by_witness(seqs, 17, left) in output


def test_a_witness_that_fails_or_hangs_never_fails_or_slows_a_request(
    seeded: Path, tmp_path: Path, token_for: Callable[[str], str]
) -> None:
    missing = tmp_path / "no-such-folder" / "heads.jsonl"
    with socket.socket() as hanging:  # accepts connections, never answers
        hanging.bind(("127.0.0.1", 0))
        hanging.listen(16)
        hung = f"postgresql+asyncpg://govgate@127.0.0.1:{hanging.getsockname()[1]}/witness"
        headers = {"Authorization": f"Bearer {token_for('GZ-PSB')}"}
        with own_gateway(seeded, tmp_path, witnesses=(str(missing), hung), witness_every=1,
                         witness_timeout_s=10.0) as server:  # fmt: skip
            started = time.monotonic()
            statuses = [server.client.post("/graphql", json=QUERY, headers=headers,
                                   timeout=30).status_code for _ in range(15)]  # fmt: skip
            elapsed = time.monotonic() - started
            ready = server.client.get("/readyz")
            metrics = httpx.get(f"{server.metrics_url}/metrics").text
            hanging.close()  # let the last attempts fail fast at shutdown
    assert statuses == [200] * 15
    # Publishing in the request path would cost the 10 s time limit on the very first request.
    assert elapsed < 8.0
    assert ready.status_code == 200  # a witness outage must not drain the gateway
    state = ready.json()["witnesses"][str(missing)]
    assert state["ok"] is False
    assert "FileNotFoundError" in state["error"]
    assert state["failures"] >= 1
    assert f'govgate_audit_witness_failures_total{{witness="{missing}"}}' in metrics
    with closing(sqlite3.connect(tmp_path / "audit.db")) as db:
        assert db.execute("SELECT COUNT(*) FROM audit_log").fetchone() == (15,)
    assert verify(tmp_path)[0] == 0


def test_the_final_head_is_published_at_shutdown_signed_and_naming_its_chain(
    seeded: Path, tmp_path: Path, token_for: Callable[[str], str]
) -> None:
    witness_file = tmp_path / "heads.jsonl"
    headers = {"Authorization": f"Bearer {token_for('GZ-PSB')}"}
    with own_gateway(seeded, tmp_path, witnesses=(str(witness_file),), witness_every=1_000,
                     witness_interval_s=600) as server:  # fmt: skip
        for _ in range(3):
            server.client.post("/graphql", json=QUERY, headers=headers)
        assert not witness_file.exists()  # neither 1,000 records nor 600 s yet
    # At shutdown: the chain's head and the last checkpoint, which names that head.
    head, checkpoint = (json.loads(line) for line in witness_file.read_text("utf-8").splitlines())
    assert (head["v"], head["chain"], head["seq"]) == (1, "main", 3)
    keys = Keyring.open(tmp_path / "keys" / "gateway").public_keys()
    payload = head_payload(head["seq"], head["hash"])
    assert verify_signature(keys[head["keyId"]], payload, head["signature"])
    assert checkpoint["chain"] == "checkpoint"
    signed = checkpoint_signed_bytes(checkpoint["hash"])
    assert verify_signature(keys[checkpoint["keyId"]], signed, checkpoint["signature"])


def test_an_idle_gateway_publishes_a_moved_head_after_the_interval(
    seeded: Path, tmp_path: Path, token_for: Callable[[str], str]
) -> None:
    witness_file = tmp_path / "heads.jsonl"
    headers = {"Authorization": f"Bearer {token_for('GZ-PSB')}"}
    with own_gateway(seeded, tmp_path, witnesses=(str(witness_file),), witness_every=1_000,
                     witness_interval_s=0.2) as server:  # fmt: skip
        for _ in range(3):
            server.client.post("/graphql", json=QUERY, headers=headers)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if witness_file.exists() and witnessed_seqs(witness_file.read_text("utf-8"))[-1:] == [
                3
            ]:
                break
            time.sleep(0.05)
        # Published within the interval (perhaps an earlier head too, between two requests).
        assert witnessed_seqs(witness_file.read_text("utf-8"))[-1] == 3
        lines = len(witness_file.read_text("utf-8").splitlines())
        time.sleep(0.6)  # three intervals: an unmoved head is not published again
        assert len(witness_file.read_text("utf-8").splitlines()) == lines


SOURCES = (
    '[sources]\npersons = "sqlite+aiosqlite:///p.db"\nentities = "sqlite+aiosqlite:///e.db"\n'
    'land = "sqlite+aiosqlite:///l.db"\nlicenses = "sqlite+aiosqlite:///c.db"\n'
)


def test_witness_settings_are_read_from_the_audit_table(tmp_path: Path) -> None:
    path = tmp_path / "deploy.toml"
    path.write_text(
        SOURCES + '[audit]\nurl = "sqlite+aiosqlite:///audit.db"\n'
        'witnesses = ["witness/heads.jsonl", "postgresql+asyncpg://w@witness-host/w"]\n'
        "witness_every = 50\nwitness_interval_s = 2.5\n",
        "utf-8",
    )
    witnessing = load_settings(path).witnessing
    assert witnessing.witnesses == (str(tmp_path / "witness" / "heads.jsonl"),
                                    "postgresql+asyncpg://w@witness-host/w")  # fmt: skip
    assert (witnessing.witness_every, witnessing.witness_interval_s) == (50, 2.5)
    assert Settings.demo(tmp_path).witnessing.witnesses == ()  # none unless named


def test_a_misspelled_or_mistyped_witness_setting_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "deploy.toml"
    path.write_text(SOURCES + "[audit]\nwitness_evry = 50\n", "utf-8")
    with pytest.raises(ConfigError) as misspelled:
        load_settings(path)
    message = str(misspelled.value)
    assert "'witness_evry' is an unknown setting" in message
    assert "url, witness_every, witness_interval_s, witness_timeout_s, witnesses" in message
    path.write_text(SOURCES + '[audit]\nwitnesses = "heads.jsonl"\n', "utf-8")
    with pytest.raises(ConfigError, match=r"audit.witnesses must be a list"):
        load_settings(path)
    path.write_text(SOURCES + "[audit]\nwitness_interval_s = 0\n", "utf-8")
    with pytest.raises(ConfigError, match="witness_interval_s must be a number of seconds"):
        load_settings(path)
