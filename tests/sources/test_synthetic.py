"""The synthetic base databases: repeatable, valid, consistent across sources."""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
from contextlib import closing
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select

from sources.divisions import GUANGZHOU_BBOX, GUANGZHOU_DISTRICTS
from sources.engines import default_urls, make_engine
from sources.errors import SeedError
from sources.identifiers import (
    CreditCode,
    IdNumber,
    LicenseNumber,
    OrganisationCode,
    ParcelCode,
    RegistrationNumber,
)
from sources.inventory import SOURCES
from sources.issuers import ISSUERS
from sources.seal import verify_seal
from sources.synthetic.seed import SeedPlan, seed
from tests.conftest import SMALL

if TYPE_CHECKING:
    from pathlib import Path

DISTRICTS = tuple(GUANGZHOU_DISTRICTS)


def connect(folder: Path) -> sqlite3.Connection:
    """One connection with all four databases attached, to check references across them."""
    connection = sqlite3.connect(folder / "persons.db")
    for name in ("entities", "land", "licenses"):
        connection.execute(f"ATTACH DATABASE ? AS {name}", (str(folder / f"{name}.db"),))
    return connection


def digests(folder: Path) -> dict[str, str]:
    return {
        name: hashlib.sha256((folder / f"{name}.db").read_bytes()).hexdigest() for name in SOURCES
    }


def test_the_same_seed_gives_byte_identical_databases(tmp_path: Path, seeded: Path) -> None:
    seed(SMALL, default_urls(tmp_path), workers=2)
    assert digests(tmp_path) == digests(seeded)


def test_another_seed_gives_other_data(tmp_path: Path, seeded: Path) -> None:
    other = SeedPlan.proportional(SMALL.persons, seed=SMALL.seed + 1)
    seed(other, default_urls(tmp_path), workers=1)
    mine, theirs = digests(tmp_path), digests(seeded)
    assert all(mine[name] != theirs[name] for name in SOURCES)


def test_each_source_gets_the_planned_number_of_records(seeded: Path) -> None:
    with closing(connect(seeded)) as db:
        counts = {
            table: db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("persons", "legal_entities", "land_parcels", "licenses")
        }
    assert counts == {
        "persons": SMALL.persons,
        "legal_entities": SMALL.entities,
        "land_parcels": SMALL.parcels,
        "licenses": SMALL.licenses,
    }


def test_every_identifier_in_the_data_passes_its_standard_check(seeded: Path) -> None:
    with closing(connect(seeded)) as db:
        for (value,) in db.execute("SELECT id_number FROM persons"):
            IdNumber.parse(value)
        rows = db.execute(
            "SELECT credit_code, organisation_code, registration_number FROM legal_entities"
        )
        for credit, organisation, registration in rows:
            CreditCode.parse(credit)
            assert organisation is not None or registration is not None
            if organisation is not None:
                assert OrganisationCode.parse(organisation).value == credit[8:17]
            if registration is not None:
                RegistrationNumber.parse(registration)
        for (value,) in db.execute("SELECT parcel_code FROM land_parcels"):
            ParcelCode.parse(value)
        for (value,) in db.execute("SELECT license_number FROM licenses"):
            LicenseNumber.parse(value)


def test_individual_businesses_are_keyed_by_registration_number_not_organisation_code(
    seeded: Path,
) -> None:
    with closing(connect(seeded)) as db:
        rows = db.execute(
            "SELECT organisation_code, registration_number FROM legal_entities "
            "WHERE kind = '个体工商户'"
        ).fetchall()
    assert rows
    assert all(org is None and len(reg) == 15 for org, reg in rows)


def test_every_cross_reference_resolves(seeded: Path) -> None:
    dangling = {
        "representatives": """
            SELECT count(*) FROM legal_entities e
            WHERE NOT EXISTS (SELECT 1 FROM persons p WHERE p.id_number = e.legal_representative)
        """,
        "parcel holders": """
            SELECT count(*) FROM land_parcels l WHERE NOT EXISTS (
                SELECT 1 FROM persons p
                WHERE l.right_holder_kind = 'person' AND p.id_number = l.right_holder_id
                UNION ALL
                SELECT 1 FROM legal_entities e
                WHERE l.right_holder_kind = 'entity' AND e.credit_code = l.right_holder_id)
        """,
        "licence holders": """
            SELECT count(*) FROM licenses c WHERE NOT EXISTS (
                SELECT 1 FROM persons p
                WHERE c.holder_kind = 'person' AND p.id_number = c.holder_id
                UNION ALL
                SELECT 1 FROM legal_entities e
                WHERE c.holder_kind = 'entity' AND e.credit_code = c.holder_id)
        """,
        "issuers": """
            SELECT count(*) FROM licenses c WHERE NOT EXISTS (
                SELECT 1 FROM issuer_keys k
                WHERE k.key_id = c.seal_key_id AND k.issuer_code = c.issuer_code)
        """,
    }
    with closing(connect(seeded)) as db:
        found = {name: db.execute(sql).fetchone()[0] for name, sql in dangling.items()}
        issuers = {row[0] for row in db.execute("SELECT DISTINCT issuer_code FROM licenses")}
    assert found == dict.fromkeys(dangling, 0)
    assert issuers <= set(ISSUERS)


def test_division_codes_agree_across_records_and_identifiers(seeded: Path) -> None:
    with closing(connect(seeded)) as db:
        divisions = set()
        for table in ("persons", "legal_entities", "land_parcels", "licenses"):
            divisions |= {r[0] for r in db.execute(f"SELECT DISTINCT division_code FROM {table}")}
        mismatches = {
            "entity vs credit code": "SELECT count(*) FROM legal_entities "
            "WHERE substr(credit_code, 3, 6) != division_code",
            "parcel vs parcel code": "SELECT count(*) FROM land_parcels "
            "WHERE substr(parcel_code, 1, 6) != division_code",
            "licence vs licence number": "SELECT count(*) FROM licenses "
            "WHERE substr(license_number, 4, 6) != division_code",
            "licence vs person holder": "SELECT count(*) FROM licenses c JOIN persons p "
            "ON c.holder_kind = 'person' AND p.id_number = c.holder_id "
            "WHERE p.division_code != c.division_code",
            "licence vs entity holder": "SELECT count(*) FROM licenses c JOIN legal_entities e "
            "ON c.holder_kind = 'entity' AND e.credit_code = c.holder_id "
            "WHERE e.division_code != c.division_code",
        }
        found = {name: db.execute(sql).fetchone()[0] for name, sql in mismatches.items()}
    assert divisions <= set(DISTRICTS)
    assert found == dict.fromkeys(mismatches, 0)


def test_licences_go_to_fitting_holders_once_each(seeded: Path) -> None:
    with closing(connect(seeded)) as db:
        unmarried = db.execute(
            "SELECT count(*) FROM licenses c JOIN persons p ON p.id_number = c.holder_id "
            "WHERE c.kind = '结婚证' AND p.marital_status != 'married'"
        ).fetchone()[0]
        repeated = db.execute(
            "SELECT count(*) FROM (SELECT holder_id, kind FROM licenses "
            "WHERE kind IN ('营业执照', '机动车驾驶证', '结婚证') "
            "GROUP BY holder_id, kind HAVING count(*) > 1)"
        ).fetchone()[0]
        kinds = {r[0] for r in db.execute("SELECT DISTINCT kind FROM licenses")}
    assert unmarried == 0
    assert repeated == 0
    assert len(kinds) == 5


def test_every_seal_verifies_with_its_issuers_published_key(seeded: Path) -> None:
    with closing(connect(seeded)) as db:
        db.row_factory = sqlite3.Row
        keys = {r["key_id"]: r["public_key"] for r in db.execute("SELECT * FROM issuer_keys")}
        rows = [dict(r) for r in db.execute("SELECT * FROM licenses")]
    assert all(verify_seal(r, r["seal_signature"], keys[r["seal_key_id"]]) for r in rows)
    tampered = {**rows[0], "valid_until": "2099-12-31"}
    assert not verify_seal(tampered, rows[0]["seal_signature"], keys[rows[0]["seal_key_id"]])


def test_parcels_lie_inside_guangzhou_and_their_own_district(seeded: Path) -> None:
    with closing(connect(seeded)) as db:
        rows = db.execute("SELECT division_code, geometry FROM land_parcels").fetchall()
    lon_min, lat_min, lon_max, lat_max = GUANGZHOU_BBOX
    for division, text in rows:
        shape = json.loads(text)
        assert shape["type"] == "Polygon"
        ring = shape["coordinates"][0]
        assert ring[0] == ring[-1]
        d_lon_min, d_lat_min, d_lon_max, d_lat_max = GUANGZHOU_DISTRICTS[division].bbox
        for lon, lat in ring:
            assert lon_min <= lon <= lon_max
            assert lat_min <= lat <= lat_max
            assert d_lon_min <= lon <= d_lon_max
            assert d_lat_min <= lat <= d_lat_max


def test_seeding_refuses_to_overwrite_data_without_replace(tmp_path: Path) -> None:
    plan = SeedPlan.proportional(50)
    seed(plan, default_urls(tmp_path), workers=1)
    with pytest.raises(SeedError, match=r"already holds data \(persons 50 records\); pass"):
        seed(plan, {"persons": default_urls(tmp_path)["persons"]}, workers=1)
    seed(plan, default_urls(tmp_path), workers=1, replace=True)


@pytest.mark.parametrize(
    ("persons", "entities", "message"),
    [(-1, 0, "--persons must be zero"), (0, 5, "at least one person")],
)
def test_impossible_plans_are_refused_with_a_reason(
    persons: int, entities: int, message: str
) -> None:
    with pytest.raises(SeedError, match=message):
        SeedPlan(persons=persons, entities=entities, parcels=0, licenses=0)


def _peak_of_seed_in_workers(persons: int, folder: Path) -> float:
    results = seed(SeedPlan.proportional(persons), default_urls(folder), workers=2)
    return max(r.peak_mib for r in results)


@pytest.mark.slow
def test_memory_stays_flat_as_the_data_grows(tmp_path: Path) -> None:
    # Ten times the records must not need meaningfully more memory: records are written in
    # fixed-size batches and cross-references are recomputed, never collected.
    small = _peak_of_seed_in_workers(2_000, tmp_path / "small")
    large = _peak_of_seed_in_workers(20_000, tmp_path / "large")
    assert large - small < 15, f"peak grew from {small:.0f} MiB to {large:.0f} MiB"


@pytest.mark.postgres
def test_postgresql_gets_exactly_the_rows_sqlite_gets(postgres_url: str, tmp_path: Path) -> None:
    plan = SeedPlan.proportional(300, seed=5)
    seed(plan, dict.fromkeys(SOURCES, postgres_url), workers=1)
    seed(plan, default_urls(tmp_path), workers=1)

    async def rows(url: str, source: str) -> list[tuple[object, ...]]:
        table = SOURCES[source].table
        engine = make_engine(url)
        try:
            async with engine.connect() as connection:
                result = await connection.execute(select(table).order_by(*table.primary_key))
                return [tuple(row) for row in result]
        finally:
            await engine.dispose()

    for source in SOURCES:
        on_postgres = asyncio.run(rows(postgres_url, source))
        on_sqlite = asyncio.run(rows(default_urls(tmp_path)[source], source))
        assert len(on_postgres) == plan.count(source)
        assert on_postgres == on_sqlite, f"{source} differs between PostgreSQL and SQLite"


def test_seeding_leaves_planner_statistics_for_every_table(seeded: Path) -> None:
    for name, table in (("persons", "persons"), ("licenses", "licenses")):
        with closing(sqlite3.connect(seeded / f"{name}.db")) as db:
            tables = {row[0] for row in db.execute("SELECT tbl FROM sqlite_stat1")}
        assert table in tables
