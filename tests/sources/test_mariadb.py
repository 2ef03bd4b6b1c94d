"""MariaDB as a source: seeded like SQLite row for row, Chinese text intact, timeouts that fire.

Every test here runs against the real MariaDB server (the `mariadb_url` fixture); none mocks it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError

from sources.engines import SourceOptions, default_urls, make_engine
from sources.errors import SeedError
from sources.inventory import SOURCES
from sources.licenses import issuer_keys
from sources.persons import persons
from sources.synthetic.seed import SeedPlan, seed

if TYPE_CHECKING:
    from sqlalchemy import Table

pytestmark = pytest.mark.mariadb

GOVGATE = shutil.which("govgate") or str(Path(sys.executable).with_name("govgate"))

#: Microseconds in the as-of time reach every `updated_at`, so the comparison below shows that
#: MariaDB keeps them (its DATETIME drops them unless declared DATETIME(6)).
PLAN = dataclasses.replace(
    SeedPlan.proportional(300, seed=5), as_of=datetime(2026, 11, 1, 9, 30, 15, 123456, tzinfo=UTC)
)


async def _rows(url: str, table: Table) -> list[tuple[object, ...]]:
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            result = await connection.execute(select(table).order_by(*table.primary_key))
            return [tuple(row) for row in result]
    finally:
        await engine.dispose()


async def _scalar(url: str, sql: str, **params: object) -> object:
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            return (await connection.execute(text(sql), params)).scalar_one()
    finally:
        await engine.dispose()


def test_mariadb_gets_exactly_the_rows_sqlite_gets(mariadb_url: str, tmp_path: Path) -> None:
    seed(PLAN, dict.fromkeys(SOURCES, mariadb_url), workers=1)
    seed(PLAN, default_urls(tmp_path), workers=1)
    # No normalisation: every column comes back from asyncmy as the same Python value SQLite's
    # gives (str, date, datetime with microseconds, int, float, bool), so rows compare as they are.
    for source, spec in SOURCES.items():
        tables = [spec.table, issuer_keys] if source == "licenses" else [spec.table]
        for table in tables:
            on_mariadb = asyncio.run(_rows(mariadb_url, table))
            on_sqlite = asyncio.run(_rows(default_urls(tmp_path)[source], table))
            assert len(on_mariadb) == len(on_sqlite) > 0
            assert on_mariadb == on_sqlite, f"{table.name} differs between MariaDB and SQLite"
    latest = asyncio.run(_scalar(mariadb_url, "SELECT MAX(updated_at) FROM persons"))
    assert isinstance(latest, datetime)
    assert latest.microsecond == 123456


def test_chinese_text_round_trips_through_mariadb(mariadb_url: str) -> None:
    seed(SeedPlan(persons=5, entities=0, parcels=0, licenses=0), {"persons": mariadb_url})
    # 𠮷 lies outside the Basic Multilingual Plane: it needs 4-byte UTF-8 (utf8mb4) all the way,
    # in the table and on the connection the engine opens from a URL that names no charset.
    name, address = "𠮷野龘", "广州市天河区天河路 385 号（太古汇）"

    async def write_and_read() -> tuple[str, str]:
        engine = make_engine(mariadb_url)
        try:
            async with engine.begin() as connection:
                first = (await connection.execute(select(persons.c.id_number).limit(1))).scalar()
                await connection.execute(
                    persons.update()
                    .where(persons.c.id_number == first)
                    .values(name=name, address=address)
                )
            async with engine.connect() as connection:
                row = (
                    await connection.execute(
                        select(persons.c.name, persons.c.address).where(persons.c.name == name)
                    )
                ).one()
                return row.name, row.address
        finally:
            await engine.dispose()

    assert asyncio.run(write_and_read()) == (name, address)
    collation = asyncio.run(
        _scalar(
            mariadb_url,
            "SELECT table_collation FROM information_schema.tables "
            "WHERE table_schema = DATABASE() AND table_name = 'persons'",
        )
    )
    assert collation == "utf8mb4_bin"


def test_mariadb_compares_identifiers_by_code_point_as_sqlite_does(mariadb_url: str) -> None:
    # A case-insensitive collation would let a lower-case 'x' find an ID number ending in 'X'
    # on MariaDB and not on SQLite: the same query would answer differently per deployment.
    seed(SeedPlan(persons=200, entities=0, parcels=0, licenses=0), {"persons": mariadb_url})
    with_x = asyncio.run(
        _scalar(mariadb_url, "SELECT id_number FROM persons WHERE id_number LIKE '%X' LIMIT 1")
    )
    assert isinstance(with_x, str)
    lower = with_x.lower()
    found = asyncio.run(
        _scalar(mariadb_url, "SELECT COUNT(*) FROM persons WHERE id_number = :id", id=lower)
    )
    assert found == 0


def test_seeding_refuses_an_occupied_mariadb_target_without_replace(mariadb_url: str) -> None:
    plan = SeedPlan.proportional(50)
    seed(plan, {"persons": mariadb_url, "entities": mariadb_url}, workers=1)
    with pytest.raises(SeedError, match=r"already holds data \(entities 10 records\); pass"):
        seed(plan, {"entities": mariadb_url}, workers=1)
    bigger = SeedPlan.proportional(100)
    seed(bigger, {"entities": mariadb_url}, workers=1, replace=True)
    count = asyncio.run(_scalar(mariadb_url, "SELECT COUNT(*) FROM legal_entities"))
    assert count == 20


def test_govgate_seed_fills_a_mariadb_source_named_on_the_command_line(mariadb_url: str) -> None:
    def govgate_seed(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [GOVGATE, "seed", "--source", f"entities={mariadb_url}", "--persons", "100", *extra],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    first = govgate_seed()
    assert first.returncode == 0, first.stderr
    assert "entities          20 records" in first.stdout
    again = govgate_seed()
    assert again.returncode == 2
    assert "already holds data (entities 20 records); pass --replace" in again.stderr
    assert "Traceback" not in again.stderr
    replaced = govgate_seed("--replace")
    assert replaced.returncode == 0, replaced.stderr
    # The seeder built the indexes after the load and left statistics for the planner.
    indexes = asyncio.run(
        _scalar(
            mariadb_url,
            "SELECT COUNT(DISTINCT index_name) FROM information_schema.statistics "
            "WHERE table_schema = DATABASE() AND table_name = 'legal_entities'",
        )
    )
    assert indexes == 1 + len(SOURCES["entities"].table.indexes)  # the primary key and the rest
    analysed = asyncio.run(
        _scalar(
            mariadb_url,
            "SELECT COUNT(*) FROM mysql.innodb_table_stats "
            "WHERE database_name = DATABASE() AND table_name = 'legal_entities'",
        )
    )
    assert analysed == 1


def test_a_statement_past_its_timeout_is_cancelled_on_mariadb(mariadb_url: str) -> None:
    async def sleep_past_the_timeout() -> tuple[float, str, object]:
        engine = make_engine(mariadb_url, options=SourceOptions(statement_timeout_ms=500))
        try:
            started = time.perf_counter()
            try:
                async with engine.connect() as connection:
                    await connection.execute(text("SELECT SLEEP(3)"))
            except OperationalError as error:
                elapsed, message = time.perf_counter() - started, str(error.orig)
            else:
                pytest.fail("SELECT SLEEP(3) ran to the end despite a 500 ms statement timeout")
            async with engine.connect() as connection:  # the pool still answers afterwards
                setting = (await connection.execute(text("SELECT @@max_statement_time"))).scalar()
            return elapsed, message, setting
        finally:
            await engine.dispose()

    elapsed, message, setting = asyncio.run(sleep_past_the_timeout())
    assert elapsed < 1.5
    # The server cancelled it (error 1969), not the client's backstop a second later.
    assert "max_statement_time exceeded" in message
    assert setting == 0.5
