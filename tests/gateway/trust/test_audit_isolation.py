"""One record can never fail another: a record is encoded before it joins a group commit, and a
batch the store refuses is split until the failing record is alone (docs/security.md, "Input
that is not valid text"). Every request is recorded exactly once, and the chain verifies."""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
from collections import Counter
from contextlib import closing
from typing import TYPE_CHECKING, Any

import httpx
from click.testing import CliRunner
from sqlalchemy import Column, Integer, MetaData, Table

from gateway.cli import main
from gateway.trust.audit import (
    AuditEntry,
    AuditStore,
    AuditUnavailableError,
    AuditWriter,
    ChainVerdict,
    Operation,
    verify_chain,
)
from tests.gateway.http.test_audit import own_gateway

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

#: Evidence rows whose primary key two requests share: the store refuses the second.
EVIDENCE = Table("evidence", MetaData(), Column("id", Integer, primary_key=True))


def entry(request_id: str, name: str = "Q", reason: str | None = None) -> AuditEntry:
    return AuditEntry(
        at="2026-11-26T08:00:00.000000Z", request_id=request_id, endpoint="/graphql",
        decision="refused", agency="TH-CA", reason=reason,
        operations=(Operation(name, "0" * 64),), error_codes=("FORBIDDEN_FIELD",),
    )  # fmt: skip


def stored(folder: Path) -> list[dict[str, Any]]:
    with closing(sqlite3.connect(folder / "audit.db")) as db:
        return [json.loads(text) for (text,) in db.execute("SELECT content FROM audit_log")]


def verified(folder: Path, records: int) -> None:
    """`govgate audit verify` on a gateway's folder: intact, `records` records."""
    result = CliRunner().invoke(main, ["audit", "verify", "--data", str(folder)])
    assert result.exit_code == 0, result.output
    assert f"intact: {records:,} records" in result.output


def chained(folder: Path, records: int) -> None:
    """The (unsigned) chain of a bare store holds `records` records and every link."""

    async def check() -> ChainVerdict:
        store = AuditStore(f"sqlite+aiosqlite:///{folder / 'audit.db'}")
        try:
            found = [record async for record in store.records()]
            return verify_chain(found, await store.head())
        finally:
            await store.close()

    verdict = asyncio.run(check())
    assert verdict.ok, verdict.problem
    assert verdict.checked == records


async def write_all(folder: Path, items: list[tuple[AuditEntry, list[Any]]]) -> list[object]:
    """Hand every entry to one writer at once (one batch), each with its extra rows."""
    store = AuditStore(f"sqlite+aiosqlite:///{folder / 'audit.db'}")
    await store.create()
    async with store.engine.begin() as connection:
        await connection.run_sync(EVIDENCE.metadata.create_all)
    writer = AuditWriter(store)
    writer.start()
    try:
        return await asyncio.gather(
            *(writer.record(item, rows) for item, rows in items), return_exceptions=True
        )
    finally:
        await writer.close()
        await store.close()


def test_a_record_with_unencodable_text_is_repaired_and_fails_no_one(tmp_path: Path) -> None:
    items: list[tuple[AuditEntry, list[Any]]] = [(entry(f"ok-{n}"), []) for n in range(40)]
    items[7] = (entry("poisoned-name", name="\ud800"), [])
    items[23] = (entry("poisoned-reason", reason="why \udfff"), [])
    outcomes = asyncio.run(write_all(tmp_path, items))
    assert all(isinstance(number, int) for number in outcomes), outcomes
    records = {r["requestId"]: r for r in stored(tmp_path)}
    assert set(records) == {item.request_id for item, _ in items}
    assert records["poisoned-name"]["operations"][0]["name"] == "\ufffd"
    assert records["poisoned-reason"]["reason"] == "why \ufffd"
    assert records["poisoned-name"]["flags"] == ["text-replaced"]
    assert records["ok-0"]["flags"] == []
    chained(tmp_path, 40)


def test_a_record_the_store_refuses_is_isolated_and_stood_in_for(tmp_path: Path) -> None:
    items = [(entry(f"ok-{n}"), [(EVIDENCE, {"id": n})]) for n in range(60)]
    items[41] = (entry("clashing"), [(EVIDENCE, {"id": 3})])  # the same key as ok-3's row
    outcomes = asyncio.run(write_all(tmp_path, items))
    failed = [item.request_id for (item, _), o in zip(items, outcomes, strict=True)
              if isinstance(o, AuditUnavailableError)]  # fmt: skip
    assert failed == ["clashing"]
    counts = Counter(r["requestId"] for r in stored(tmp_path))
    assert counts == Counter(item.request_id for item, _ in items)  # each exactly once
    (stand_in,) = [r for r in stored(tmp_path) if r["requestId"] == "clashing"]
    assert (stand_in["decision"], stand_in["flags"]) == ("failed", ["record-unwritable"])
    assert stand_in["errorCodes"] == ["AUDIT_UNAVAILABLE"]
    assert "IntegrityError" in stand_in["reason"]
    chained(tmp_path, 60)


#: A refused query whose operation name is a lone surrogate (issue 9, item 3's repro), as an
#: escape and as raw UTF-8 bytes; and a variable key that is one.
POISONED = [
    b'{"query": "{ person(idNumber: \\"1\\") { religion } }", "operationName": "\\ud800"}',
    b'{"query": "{ person(idNumber: \\"1\\") { religion } }", "operationName": "\xed\xa0\x80"}',
    b'{"query": "{ me { policyVersion } }", "variables": {"\\ud800": 1}}',
]
NORMAL = {
    "GZ-PSB": b'{"query": "{ persons(first: 2) { edges { node { name } } } }"}',
    "PY-TAX": b'{"query": "{ legalEntities(first: 2) { edges { node { name } } } }"}',
}


def test_poisoned_requests_interleaved_with_two_agencies_fail_none_of_theirs(
    seeded: Path, tmp_path: Path, token_for: Callable[[str], str]
) -> None:
    rng = random.Random(9)
    plan: list[tuple[str, bytes, bool]] = []
    for _ in range(450):
        agency = rng.choice(list(NORMAL))
        poisoned = rng.random() < 0.3
        plan.append((agency, rng.choice(POISONED) if poisoned else NORMAL[agency], poisoned))
    tokens = {agency: token_for(agency) for agency in NORMAL}

    async def load(url: str) -> list[httpx.Response]:
        limit = asyncio.Semaphore(48)
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:

            async def one(agency: str, content: bytes) -> httpx.Response:
                headers = {"Authorization": f"Bearer {tokens[agency]}",
                           "Content-Type": "application/json"}  # fmt: skip
                async with limit:
                    return await client.post("/graphql", content=content, headers=headers)

            return await asyncio.gather(*(one(agency, content) for agency, content, _ in plan))

    with own_gateway(seeded, tmp_path) as server:
        responses = asyncio.run(load(server.url))
    for (_, _, poisoned), response in zip(plan, responses, strict=True):
        if poisoned:
            assert response.status_code == 400, response.text
            assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        else:
            assert response.status_code == 200, response.text
            assert "errors" not in response.json()
    counts = Counter(r["requestId"] for r in stored(tmp_path))
    assert counts == Counter(response.headers["x-request-id"] for response in responses)
    assert set(counts.values()) == {1}
    verified(tmp_path, len(plan))
