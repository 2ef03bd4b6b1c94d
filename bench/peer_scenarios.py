"""The peer benchmark's scenarios in both dialects, the keys they ask for, and answer comparison.

The same three operations as bench/gw_scenarios.py (s1 one person by ID, 8 fields; s2 a person
with licences, land rights and represented entities; s3 a page of 100 persons with licences),
written once for govgate and once for PostGraphile 4, so that both answers have the same keys
in the same order: PostGraphile's root fields are aliased to govgate's names, and its links
are named by the smart tags below (`TAGS`) as govgate names them. Links are ordered by the
linked table's primary key in both (govgate's DataLoader orders by it; PostGraphile is told
`orderBy: PRIMARY_KEY_ASC`), and pages by the person's ID number.

Keys are sampled from the PostgreSQL database (a fixed seed, so runs are repeatable) and every
system gets the same keys in the same order; `normalise` turns an answer into one shape (the
`data` member, page cursors decoded to the key they stand for) for the comparison.
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gw_scenarios import OPERATIONS as GOVGATE_OPERATIONS
from gw_scenarios import PAGE, PERSON_8
from gw_scenarios import cursor as govgate_cursor

SCENARIOS = {
    "s1": ("PersonById", "One person by ID, 8 fields (persons)"),
    "s2": ("PersonAllSources", "One person with licences, land rights and represented entities"),
    "s3": ("PersonsPage", "A page of 100 persons, each with its licences"),
}

SYSTEMS = ("govgate", "postgraphile")

#: The schema PostGraphile serves besides `public`: two views that narrow the polymorphic
#: holder columns to persons (govgate's `holder_kind = 'person'` link condition), and the
#: sampled IDs pgbench reads. Made afresh by every run.
PEER_SCHEMA = "peer"
PEER_SQL = f"""
DROP SCHEMA IF EXISTS {PEER_SCHEMA} CASCADE;
CREATE SCHEMA {PEER_SCHEMA};
CREATE VIEW {PEER_SCHEMA}.person_licenses AS
  SELECT * FROM public.licenses WHERE holder_kind = 'person';
CREATE VIEW {PEER_SCHEMA}.person_land_rights AS
  SELECT * FROM public.land_parcels WHERE right_holder_kind = 'person';
CREATE TABLE {PEER_SCHEMA}.s1_ids (n integer PRIMARY KEY, id_number text NOT NULL);
COMMENT ON TABLE {PEER_SCHEMA}.s1_ids IS E'@omit';
"""  # noqa: S608 (fixed names, no input)

#: PostGraphile smart tags (postgraphile.tags.json5, read from the server's working folder):
#: the three links govgate exposes on Person, under govgate's field names; the simple list
#: (`@foreignSimpleFieldName`, with --simple-collections both) is the field the operations use.
TAGS: dict[str, Any] = {
    "version": 1,
    "config": {
        "class": {
            f"{PEER_SCHEMA}.person_licenses": {"tags": {
                "primaryKey": "license_number",
                "foreignKey": "(holder_id) references public.persons (id_number)"
                "|@fieldName holder|@foreignFieldName licensesConnection"
                "|@foreignSimpleFieldName licenses",
            }},
            f"{PEER_SCHEMA}.person_land_rights": {"tags": {
                "primaryKey": "parcel_code",
                "foreignKey": "(right_holder_id) references public.persons (id_number)"
                "|@fieldName rightHolder|@foreignFieldName landRightsConnection"
                "|@foreignSimpleFieldName landRights",
            }},
            "public.legal_entities": {"tags": {
                "foreignKey": "(legal_representative) references public.persons (id_number)"
                "|@fieldName representative|@foreignFieldName representedEntitiesConnection"
                "|@foreignSimpleFieldName representedEntities",
            }},
        }
    },
}  # fmt: skip

_BY_KEY = "(orderBy: PRIMARY_KEY_ASC)"
POSTGRAPHILE_OPERATIONS = {
    "PersonById": (
        "query PersonById($id: String!) { person: personByIdNumber(idNumber: $id) { "
        + PERSON_8
        + " } }"
    ),
    "PersonAllSources": (
        "query PersonAllSources($id: String!) { person: personByIdNumber(idNumber: $id) {"
        " idNumber name birthDate divisionCode"
        f" licenses{_BY_KEY} {{ licenseNumber kind issuedOn validUntil status }}"
        f" landRights{_BY_KEY} {{ parcelCode landUse divisionCode }}"
        f" representedEntities{_BY_KEY} {{ creditCode name kind status }} }} }}"
    ),
    "PersonsPage": (
        "query PersonsPage($after: Cursor) {"
        f" persons: allPeople(first: {PAGE}, after: $after, orderBy: PRIMARY_KEY_ASC) {{"
        " edges { node { idNumber name gender birthDate divisionCode"
        f" licenses{_BY_KEY} {{ licenseNumber kind status validUntil }} }} }}"
        " pageInfo { hasNextPage endCursor } } }"
    ),
}


def postgraphile_cursor(key: str) -> str:
    """PostGraphile 4's cursor for a row of a connection ordered by the primary key."""
    text = json.dumps(["primary_key_asc", [key]], separators=(",", ":"), ensure_ascii=False)
    return base64.b64encode(text.encode()).decode("ascii")


def decode_cursor(cursor: str) -> str:
    """The key a cursor of either system stands for (what the comparison looks at)."""
    padded = cursor + "=" * (-len(cursor) % 4)
    text = base64.urlsafe_b64decode(padded).decode("utf-8", "replace")
    if text.startswith("v1:"):  # govgate: URL-safe base64 of "v1:KEY"
        return text.removeprefix("v1:")
    order, values = json.loads(base64.b64decode(padded))  # PostGraphile: base64 of JSON
    if order != "primary_key_asc" or len(values) != 1:
        raise ValueError(f"unexpected PostGraphile cursor {text!r}")
    return str(values[0])


def body(system: str, operation: str, variables: dict[str, object]) -> str:
    operations = GOVGATE_OPERATIONS if system == "govgate" else POSTGRAPHILE_OPERATIONS
    return json.dumps(
        {"operationName": operation, "query": operations[operation], "variables": variables},
        ensure_ascii=False,
        separators=(",", ":"),
    )


def variables(system: str, scenario: str, key: str) -> dict[str, object]:
    if scenario in ("s1", "s2"):
        return {"id": key}
    if system == "govgate":
        return {"after": govgate_cursor(key), "division": None}
    return {"after": postgraphile_cursor(key)}


def write_bodies(out: Path, keys: dict[str, list[str]]) -> dict[str, Path]:
    """One file per scenario and system (`s1-govgate.txt`, ...), one request body a line,
    the same keys in the same order for both systems."""
    out.mkdir(parents=True, exist_ok=True)
    files = {}
    for scenario, (operation, _title) in SCENARIOS.items():
        for system in SYSTEMS:
            path = out / f"{scenario}-{system}.txt"
            lines = [
                body(system, operation, variables(system, scenario, key)) for key in keys[scenario]
            ]
            path.write_text("\n".join(lines) + "\n", "utf-8")
            files[f"{scenario}-{system}"] = path
    return files


SAMPLE_SQL = {
    # One person by ID: any person.
    "s1": "SELECT id_number FROM persons ORDER BY random() LIMIT $1",
    # Persons with at least one licence, land right and represented entity.
    "s2": (
        "SELECT p.id_number FROM persons p"
        " WHERE EXISTS (SELECT 1 FROM licenses x"
        "               WHERE x.holder_id = p.id_number AND x.holder_kind = 'person')"
        " AND EXISTS (SELECT 1 FROM land_parcels y"
        "             WHERE y.right_holder_id = p.id_number AND y.right_holder_kind = 'person')"
        " AND EXISTS (SELECT 1 FROM legal_entities z WHERE z.legal_representative = p.id_number)"
        " ORDER BY random() LIMIT $1"
    ),
    # Page starts: full pages only (at least PAGE persons after the key).
    "s3": (
        "SELECT id_number FROM (SELECT id_number FROM persons ORDER BY id_number"  # noqa: S608
        f" OFFSET 0 LIMIT (SELECT count(*) - {PAGE} - 1 FROM persons)) t"
        " ORDER BY random() LIMIT $1"
    ),
}
SAMPLE_SIZE = {"s1": 5_000, "s2": 5_000, "s3": 1_000}


async def sample_keys(dsn: str) -> dict[str, list[str]]:
    """A fixed random sample of keys per scenario (setseed: the same data give the same keys)."""
    import asyncpg  # noqa: PLC0415 (the project's virtualenv has it)

    connection = await asyncpg.connect(dsn, timeout=10)
    try:
        keys = {}
        for scenario, sql in SAMPLE_SQL.items():
            await connection.execute("SELECT setseed(0.1126)")
            keys[scenario] = [r[0] for r in await connection.fetch(sql, SAMPLE_SIZE[scenario])]
    finally:
        await connection.close()
    if len(keys["s1"]) < SAMPLE_SIZE["s1"] or not keys["s2"] or not keys["s3"]:
        raise SystemExit(
            f"{dsn}: too few records for the benchmark ({ {k: len(v) for k, v in keys.items()} }"
            " keys); seed more persons (bench/peer.sh 100000)."
        )
    return keys


def normalise(scenario: str, answer: dict[str, Any]) -> str:
    """The answer as compared: its `data` as JSON text, keys in the order the server sent
    them, page cursors replaced by the key they stand for. Errors make it not comparable."""
    if answer.get("errors") or "data" not in answer:
        raise ValueError(f"an error answer: {json.dumps(answer, ensure_ascii=False)[:500]}")
    data = answer["data"]
    if scenario == "s3":
        page = data["persons"]["pageInfo"]
        if page.get("endCursor"):
            page["endCursor"] = decode_cursor(page["endCursor"])
    return json.dumps(data, ensure_ascii=False)


def non_empty(scenario: str, answer: dict[str, Any]) -> bool:
    """Whether an answer holds what its scenario asks for (a sampled key must find data)."""
    data = answer.get("data") or {}
    if scenario == "s1":
        return bool(data.get("person"))
    if scenario == "s2":
        person = data.get("person") or {}
        return all(person.get(k) for k in ("licenses", "landRights", "representedEntities"))
    edges = (data.get("persons") or {}).get("edges") or []
    return len(edges) == PAGE
