"""The gateway benchmark's scenarios: GraphQL operations and the request bodies wrk rotates over.

    .venv/bin/python bench/gw_scenarios.py --data DIR --out DIR

Writes one file per body set into --out, one JSON request body per line, with real keys read
from the seeded SQLite files (a fixed random sample, so runs are repeatable and caches do not
flatter the figures):

* `s1-city.txt`    one person by ID, 8 fields; IDs sampled from the whole city.
* `s1-tianhe.txt`  the same, IDs of Tianhe (440106) residents only: the district agency TH-CA
                   sees only those, so GZ-PSB and TH-CA are compared on the same rows.
* `s2-city.txt`    one person with licences, land rights and represented entities (all four
                   sources); persons who have at least one of each.
* `s3-city.txt`    a page of 100 persons, each with its licences, starting after random IDs.
* `s3-tianhe.txt`  the same page filtered to divisionCode 440106 (TH-CA's own rows).

The floor server (gw_floor.py) reads the same bodies: it dispatches on operationName.
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import sqlite3
from pathlib import Path

TIANHE = "440106"
SAMPLE = 5_000
PAGE = 100

# The 8 fields are readable by both GZ-PSB and TH-CA (see `govgate policy grants`).
PERSON_8 = "idNumber name gender birthDate ethnicity divisionCode address status"

OPERATIONS = {
    "PersonById": ("query PersonById($id: String!) { person(idNumber: $id) { " + PERSON_8 + " } }"),
    "PersonAllSources": (
        "query PersonAllSources($id: String!) { person(idNumber: $id) {"
        " idNumber name birthDate divisionCode"
        " licenses { licenseNumber kind issuedOn validUntil status }"
        " landRights { parcelCode landUse divisionCode }"
        " representedEntities { creditCode name kind status } } }"
    ),
    "PersonsPage": (
        "query PersonsPage($after: String, $division: String) {"
        " persons(first: " + str(PAGE) + ", after: $after, divisionCode: $division) {"
        " edges { node { idNumber name gender birthDate divisionCode"
        " licenses { licenseNumber kind status validUntil } } }"
        " pageInfo { hasNextPage endCursor } } }"
    ),
}


def cursor(key: str) -> str:
    """The gateway's cursor for a key (resolvers.root._cursor)."""
    return base64.urlsafe_b64encode(f"v1:{key}".encode()).decode("ascii")


def body(operation: str, variables: dict[str, object]) -> str:
    return json.dumps(
        {"operationName": operation, "query": OPERATIONS[operation], "variables": variables},
        ensure_ascii=False,
        separators=(",", ":"),
    )


def _sample(rows: list[str], n: int, rng: random.Random) -> list[str]:
    return rng.sample(rows, n) if len(rows) > n else rows


def write_bodies(data: Path, out: Path) -> dict[str, int]:
    rng = random.Random(20261126)
    db = sqlite3.connect(f"file:{data / 'persons.db'}?mode=ro", uri=True)
    db.execute(f"ATTACH 'file:{data / 'licenses.db'}?mode=ro' AS l")
    db.execute(f"ATTACH 'file:{data / 'land.db'}?mode=ro' AS d")
    db.execute(f"ATTACH 'file:{data / 'entities.db'}?mode=ro' AS e")
    ids = [r[0] for r in db.execute("SELECT id_number FROM persons ORDER BY id_number")]
    tianhe = [
        r[0]
        for r in db.execute(
            "SELECT id_number FROM persons WHERE division_code = ? ORDER BY id_number", (TIANHE,)
        )
    ]
    linked = [
        r[0]
        for r in db.execute(
            "SELECT p.id_number FROM persons p"
            " WHERE EXISTS (SELECT 1 FROM l.licenses x"
            "               WHERE x.holder_id = p.id_number AND x.holder_kind = 'person')"
            " AND EXISTS (SELECT 1 FROM d.land_parcels y"
            "             WHERE y.right_holder_id = p.id_number AND y.right_holder_kind = 'person')"
            " AND EXISTS (SELECT 1 FROM e.legal_entities z"
            "             WHERE z.legal_representative = p.id_number)"
            " ORDER BY p.id_number"
        )
    ]
    db.close()
    if len(ids) < 10 * PAGE or len(tianhe) < 2 * PAGE or not linked:
        raise SystemExit(f"{data}: too few records for the benchmark; seed more persons.")
    sets = {
        "s1-city": [body("PersonById", {"id": i}) for i in _sample(ids, SAMPLE, rng)],
        "s1-tianhe": [body("PersonById", {"id": i}) for i in _sample(tianhe, SAMPLE, rng)],
        "s2-city": [body("PersonAllSources", {"id": i}) for i in _sample(linked, SAMPLE, rng)],
        # Full pages only: start at least PAGE keys before the end.
        "s3-city": [
            body("PersonsPage", {"after": cursor(i), "division": None})
            for i in _sample(ids[: -PAGE - 1], 1_000, rng)
        ],
        "s3-tianhe": [
            body("PersonsPage", {"after": cursor(i), "division": TIANHE})
            for i in _sample(tianhe[: -PAGE - 1], 1_000, rng)
        ],
    }
    out.mkdir(parents=True, exist_ok=True)
    for name, bodies in sets.items():
        (out / f"{name}.txt").write_text("\n".join(bodies) + "\n", "utf-8")
    return {name: len(bodies) for name, bodies in sets.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args()
    print(json.dumps(write_bodies(args.data, args.out)))


if __name__ == "__main__":
    main()
