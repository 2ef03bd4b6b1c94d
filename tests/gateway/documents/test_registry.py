"""The documents' log and each process's registry of it, on SQLite and on PostgreSQL: what one
process writes, another follows; an approval or revocation is never overwritten by a client."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

import pytest

from gateway.documents import DocumentError, Documents, DocumentStore, document_hash, resolve
from gateway.settings import DocumentOptions
from sources.engines import make_engine

if TYPE_CHECKING:
    from pathlib import Path

TEXT = "{ me { agency } }"


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}"
    postgres: str = request.getfixturevalue("postgres_url")
    return postgres


def registry(url: str, options: DocumentOptions | None = None) -> Documents:
    store = DocumentStore(make_engine(url))
    return Documents(store, url, options or DocumentOptions(), clock=lambda: "2026-12-01T00:00Z")


async def until(check: object) -> None:
    deadline = time.monotonic() + 10
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "not followed within 10 s"
        await asyncio.sleep(0.05)


def test_what_one_process_registers_another_follows_and_approval_wins(url: str) -> None:
    async def scenario() -> None:
        one, two = registry(url), registry(url)
        approved: list[str] = []
        two.on_approved = lambda rows: approved.extend(row.sha256 for row in rows)
        await one.start()
        await two.start()
        try:
            assert await one.register("GZ-PSB", TEXT, by="agency:GZ-PSB")
            digest = document_hash(TEXT)
            await until(lambda: two.find("GZ-PSB", digest) is not None)
            assert two.find("GZ-PSB", digest).status == "registered"  # type: ignore[union-attr]
            assert two.find("GZ-AMR", digest) is None  # per agency
            await one.store.add(query=TEXT, agency="GZ-PSB", status="approved",
                                decided_by="admin", decided_at="2026-12-01T00:01Z")  # fmt: skip
            await until(lambda: approved == [digest])
            # A client sending the text again does not turn an approval back into a registration.
            assert not await two.register("GZ-PSB", TEXT, by="agency:GZ-PSB")
            await one.store.add(query=TEXT, agency="GZ-PSB", status="revoked",
                                decided_by="admin", decided_at="2026-12-01T00:02Z")  # fmt: skip
            await until(lambda: two.find("GZ-PSB", digest).status == "revoked")  # type: ignore[union-attr]
            assert not await two.register("GZ-PSB", TEXT, by="agency:GZ-PSB")
            rows = await one.store.current("GZ-PSB")
            assert [(r.status, r.decided_by) for r in rows] == [("revoked", "admin")]
        finally:
            for process in (one, two):
                await process.close()
                await process.store.engine.dispose()

    asyncio.run(scenario())


def test_registrations_are_bounded_and_required_agencies_register_nothing(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}"

    async def scenario() -> None:
        documents = registry(url, DocumentOptions(require_registered=("GZ-AMR",), max_registered=2))
        await documents.start()
        try:
            kept = [await documents.register("GZ-PSB", f"{{ me {{ agency }} }} # {n}", by="a")
                    for n in range(3)]  # fmt: skip
            assert kept == [True, True, False]
            assert not await documents.register("GZ-AMR", TEXT, by="a")
            assert documents.find("GZ-AMR", document_hash(TEXT)) is None
            with pytest.raises(DocumentError) as refused:
                documents.admit("GZ-AMR", TEXT, introspection=False)
            assert refused.value.code == "DOCUMENT_NOT_APPROVED"
            documents.admit("GZ-AMR", "{ __typename }", introspection=True)  # the schema alone
            documents.admit("GZ-PSB", TEXT, introspection=False)  # not in required mode
        finally:
            await documents.close()
            await documents.store.engine.dispose()

    asyncio.run(scenario())


def test_a_persisted_query_needs_version_1_and_a_hash_of_64_hex_digits(tmp_path: Path) -> None:
    documents = registry(f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}")
    for extension, code in (
        ({"version": 2, "sha256Hash": "a" * 64}, "PERSISTED_QUERY_NOT_SUPPORTED"),
        ({"version": True, "sha256Hash": "a" * 64}, "PERSISTED_QUERY_NOT_SUPPORTED"),
        ({"version": 1, "sha256Hash": "xyz"}, "BAD_REQUEST"),
        ("abc", "BAD_REQUEST"),
        ({"version": 1, "sha256Hash": "a" * 64}, "PERSISTED_QUERY_NOT_FOUND"),
    ):
        with pytest.raises(DocumentError) as refused:
            resolve({"extensions": {"persistedQuery": extension}}, "GZ-PSB", documents)
        assert refused.value.code == code, extension
    upper = document_hash(TEXT).upper()  # hex digits in either case name the same hash
    sent = {"query": TEXT, "extensions": {"persistedQuery": {"version": 1, "sha256Hash": upper}}}
    assert resolve(sent, "GZ-PSB", documents).register
    assert not resolve({"query": TEXT}, "GZ-PSB", documents).register
