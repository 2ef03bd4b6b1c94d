"""The measurements behind the plan path's choices (docs/plans.md), one probe each.

    .venv/bin/python bench/plan_probes.py [--sqlite DIR] [--postgres URL] [--mariadb URL]

Each URL is a database holding all four sources (seeded with `govgate seed` or
`sources.synthetic.seed.seed`); probes whose database is not given are skipped. Reports mean
microseconds per statement (or per request, for the s3 shapes):

* `lookup`: one person by ID through each way of reaching the database: SQLAlchemy's pool,
  the driver's own pool, and the plan path's drivers (CPU of this process).
* `s3`: the benchmark's page of 100 persons with their licences on PostgreSQL, as two
  statements read into rows (what plans do), as one statement building the JSON in the
  database (`json_agg`), and as one statement joining the two tables: this process's CPU and
  the PostgreSQL backend's own (from /proc), and the wall time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sqlite3
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import text

from gateway.graphql.plan.drivers import driver_for
from resolvers.arguments import cursor
from sources.engines import default_urls, make_engine

N = 2000
PAGE = 100
Probe = Callable[[str], Awaitable[Any]]


async def _timed(name: str, probe: Probe, keys: list[str], extra: Callable[[], float]) -> None:
    for key in keys[:50]:
        await probe(key)
    cpu, other, wall = time.process_time(), extra(), time.perf_counter()
    for key in keys:
        await probe(key)
    n = len(keys)
    cpu, other = (time.process_time() - cpu) / n * 1e6, (extra() - other) / n * 1e6
    wall = (time.perf_counter() - wall) / n * 1e6
    more = f"  database cpu {other:6.0f}" if other else ""
    print(f"  {name:34s} cpu {cpu:6.0f}{more}  wall {wall:6.0f}")


def _none() -> float:
    return 0.0


async def lookups(
    label: str, url: str, source_sql: str, raw: tuple[str, Probe] | None = None
) -> None:
    engine = make_engine(url)
    async with engine.connect() as connection:
        ids = [r[0] for r in await connection.execute(text("SELECT id_number FROM persons"))]
    keys = [random.Random(1).choice(ids) for _ in range(N)]
    plain = source_sql.replace("%s", ":k").replace("$1", ":k").replace("?", ":k")

    async def through_sqlalchemy(key: str) -> Any:
        async with engine.connect() as connection:
            return (await connection.execute(text(plain), {"k": key})).all()

    driver = driver_for("persons", engine)

    async def through_plan_driver(key: str) -> Any:
        return await driver.fetch(source_sql, [key], 5.0)

    print(f"lookup, {label}")
    for _ in range(2):
        await _timed("SQLAlchemy pool, compiled text", through_sqlalchemy, keys, _none)
        if raw is not None:
            await _timed(raw[0], raw[1], keys, _none)
        await _timed(f"plan driver ({type(driver).__name__})", through_plan_driver, keys, _none)
    await engine.dispose()


_COLUMNS = "id_number, name, gender, birth_date, ethnicity, division_code, address, status"


async def postgres(url: str) -> None:
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    connection = await asyncpg.connect(dsn)
    sql = f"SELECT {_COLUMNS} FROM persons WHERE id_number = $1"  # noqa: S608 (fixed text)
    pool = await asyncpg.create_pool(dsn, min_size=2, max_size=5)

    async def raw(key: str) -> Any:
        return await connection.fetch(sql, key)

    async def asyncpg_pool(key: str) -> Any:
        async with pool.acquire() as pooled:
            return await pooled.fetch(sql, key)

    await lookups("PostgreSQL", url, sql, ("asyncpg alone, one connection", raw))
    ids = [r[0] for r in await connection.fetch("SELECT id_number FROM persons")]
    await _timed("asyncpg's pool (resets on release)", asyncpg_pool,
                 [random.Random(2).choice(ids) for _ in range(N)], _none)  # fmt: skip
    await pool.close()
    await s3_shapes(connection)
    await connection.close()


async def s3_shapes(connection: asyncpg.Connection) -> None:
    pid = await connection.fetchval("SELECT pg_backend_pid()")
    tick = os.sysconf("SC_CLK_TCK")

    def backend_cpu() -> float:
        fields = Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()
        return (int(fields[11]) + int(fields[12])) / tick

    page = ("SELECT id_number, name, gender, birth_date, division_code FROM persons"
            " WHERE id_number > $1 ORDER BY id_number LIMIT 101")  # fmt: skip
    licences = ("SELECT holder_id, license_number, kind, status, valid_until FROM licenses"
                " WHERE holder_id = ANY($1::varchar[]) AND holder_kind = 'person'"
                " ORDER BY license_number")  # fmt: skip
    as_json = (
        "SELECT coalesce(json_agg(json_build_object('idNumber', p.id_number, 'name', p.name,"
        " 'gender', p.gender, 'birthDate', p.birth_date, 'divisionCode', p.division_code,"
        " 'licenses', (SELECT coalesce(json_agg(json_build_object('licenseNumber',"
        " l.license_number, 'kind', l.kind, 'status', l.status, 'validUntil', l.valid_until)"
        " ORDER BY l.license_number), '[]') FROM licenses l WHERE l.holder_id = p.id_number"
        " AND l.holder_kind = 'person')) ORDER BY p.id_number), '[]')::text"
        " FROM (SELECT id_number, name, gender, birth_date, division_code FROM persons"
        " WHERE id_number > $1 ORDER BY id_number LIMIT 101) AS p"
    )
    joined = (
        "SELECT p.id_number, p.name, p.gender, p.birth_date, p.division_code,"
        " l.license_number, l.kind, l.status, l.valid_until"
        " FROM (SELECT id_number, name, gender, birth_date, division_code FROM persons"
        " WHERE id_number > $1 ORDER BY id_number LIMIT 101) AS p"
        " LEFT JOIN licenses l ON l.holder_id = p.id_number"
        " AND l.holder_kind = 'person' ORDER BY p.id_number, l.license_number"
    )

    def licence(row: Any, at: int) -> dict[str, Any]:
        until = row[at + 3]
        return {"licenseNumber": row[at], "kind": row[at + 1], "status": row[at + 2],
                "validUntil": until.isoformat() if until else None}  # fmt: skip

    def person(row: Any, held: list[dict[str, Any]]) -> dict[str, Any]:
        born = row[3].isoformat()
        return {"idNumber": row[0], "name": row[1], "gender": row[2], "birthDate": born,
                "divisionCode": row[4], "licenses": held}  # fmt: skip

    async def rows(after: str) -> Any:
        found = await connection.fetch(page, after)
        held: dict[str, list[dict[str, Any]]] = {}
        for row in await connection.fetch(licences, [r[0] for r in found[:PAGE]]):
            held.setdefault(row[0], []).append(licence(row, 1))
        nodes = [person(r, held.get(r[0], [])) for r in found[:PAGE]]
        return nodes, len(found) > PAGE, cursor(nodes[-1]["idNumber"])

    async def in_json(after: str) -> Any:
        nodes = json.loads(await connection.fetchval(as_json, after))
        return nodes[:PAGE], len(nodes) > PAGE, cursor(nodes[PAGE - 1]["idNumber"])

    async def in_join(after: str) -> Any:
        nodes: list[dict[str, Any]] = []
        last = None
        for row in await connection.fetch(joined, after):
            if row[0] != last:
                last = row[0]
                nodes.append(person(row, []))
            if row[5] is not None:
                nodes[-1]["licenses"].append(licence(row, 5))
        return nodes[:PAGE], len(nodes) > PAGE, cursor(nodes[PAGE - 1]["idNumber"])

    ids = [r[0] for r in await connection.fetch("SELECT id_number FROM persons ORDER BY 1")]
    starts = [random.Random(3).choice(ids[: -PAGE - 1]) for _ in range(400)]
    if not await rows(starts[0]) == await in_json(starts[0]) == await in_join(starts[0]):
        raise SystemExit("the three s3 shapes answered differently")
    print("s3 (PostgreSQL): a page of 100 persons with their licences")
    for _ in range(2):
        await _timed("rows, 2 statements (plans)", rows, starts, backend_cpu)
        await _timed("JSON built by the database", in_json, starts, backend_cpu)
        await _timed("rows, 1 statement joining both", in_join, starts, backend_cpu)


async def sqlite(folder: Path) -> None:
    url = default_urls(folder)["persons"]
    sql = f"SELECT {_COLUMNS} FROM persons WHERE id_number = ?"  # noqa: S608 (fixed text)
    db = sqlite3.connect(folder / "persons.db", check_same_thread=False)
    loop = asyncio.get_running_loop()

    async def executor(key: str) -> Any:
        return await loop.run_in_executor(None, lambda: db.execute(sql, (key,)).fetchall())

    await lookups(
        "SQLite (CPU of every thread)", url, sql, ("sqlite3 in run_in_executor", executor)
    )


async def mariadb(url: str) -> None:
    sql = f"SELECT {_COLUMNS} FROM persons WHERE id_number = %s"  # noqa: S608 (fixed text)
    await lookups("MariaDB", url, sql)


async def main(args: argparse.Namespace) -> None:
    if args.sqlite:
        await sqlite(args.sqlite)
    if args.postgres:
        await postgres(args.postgres)
    if args.mariadb:
        await mariadb(args.mariadb)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sqlite", type=Path)
    parser.add_argument("--postgres")
    parser.add_argument("--mariadb")
    asyncio.run(main(parser.parse_args()))
