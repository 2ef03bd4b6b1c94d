"""CPU per request on the plan path against the resolver path, in-process, without HTTP.

    .venv/bin/python bench/plan_stages.py --sqlite DIR [--postgres URL] [--requests 500]

For each backend (the seeded SQLite folder; a PostgreSQL database holding all four sources,
seeded with `sources.synthetic.seed.seed`), for the benchmark's three operations
(bench/gw_scenarios.py: s1 one person by ID, s2 a person with licences, land rights and
entities, s3 a page of 100 persons with their licences) as GZ-PSB, runs `run_operation`
(gateway/graphql/execution.py: from the validated document to the response and the fields read) one
request at a time, the resolvers and the plans alternating in blocks of 50, each request on
keys sampled from the data. Reports the mean microseconds per request of:

* `cpu`: the whole process's CPU (SQLite's statements run in threads: aiosqlite's on the
  resolver path, the plan path's own workers), which is what bounds a worker's throughput;
* `loop`: the event loop thread's CPU alone;
* `wall`: wall-clock time (includes waiting for PostgreSQL, whose own CPU is not counted);

and checks on the way that both paths give the same answer for every request measured. The
collector is paused while a request runs (and run between blocks), as in gw_stages.py. Prints
a table and, with --json, the figures as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import random
import statistics
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import text

from gateway.graphql.execution import run_operation
from gateway.graphql.plan import PLANS
from gateway.graphql.schemas import SchemaCache
from gateway.settings import Limits
from policies.catalog import SHIPPED_CATALOG, load_catalog
from policies.grants import Policy
from policies.rules import default_rules_path, load_rules
from resolvers.context import RequestContext
from sources.engines import default_urls, make_engine
from sources.inventory import SOURCES

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gw_scenarios import OPERATIONS, cursor

BLOCK = 50
DAY = date(2026, 11, 26)


async def _bodies(engines: dict[str, Any], n: int) -> dict[str, list[dict[str, Any]]]:
    rng = random.Random(20261126)
    async with engines["persons"].connect() as c:
        ids = [r[0] for r in await c.execute(text("SELECT id_number FROM persons ORDER BY 1"))]
    async with engines["licenses"].connect() as c:
        held = "SELECT DISTINCT holder_id FROM licenses WHERE holder_kind = 'person' ORDER BY 1"
        holders = [r[0] for r in await c.execute(text(held))]
    pick = [rng.choice(ids) for _ in range(n)]
    linked = [rng.choice(holders) for _ in range(n)]
    starts = [rng.choice(ids[:-101]) for _ in range(n)]
    return {
        "s1": [{"operationName": "PersonById", "query": OPERATIONS["PersonById"],
                "variables": {"id": i}} for i in pick],
        "s2": [{"operationName": "PersonAllSources", "query": OPERATIONS["PersonAllSources"],
                "variables": {"id": i}} for i in linked],
        "s3": [{"operationName": "PersonsPage", "query": OPERATIONS["PersonsPage"],
                "variables": {"after": cursor(i), "division": None}} for i in starts],
    }  # fmt: skip


async def _measure(urls: dict[str, str], n: int) -> dict[str, Any]:
    catalog = load_catalog(SHIPPED_CATALOG)
    policy = Policy.build(
        catalog, load_rules(default_rules_path(SHIPPED_CATALOG), catalog), day=DAY
    )
    grants = policy.grants_for("GZ-PSB")
    schema = SchemaCache([grants]).schema_for(grants)
    engines = {name: make_engine(url) for name, url in urls.items()}
    limits = Limits()
    bodies = await _bodies(engines, n)

    async def one(body: dict[str, Any], plans: bool) -> tuple[Any, float, float, float]:
        PLANS.enabled = plans
        ctx = RequestContext(grants=grants, catalog=catalog, policy_version=policy.version,
                             engines=engines, max_page_size=limits.max_page_size,
                             request_id="bench")  # fmt: skip
        gc.disable()
        try:
            c0, l0, w0 = time.process_time(), time.thread_time(), time.perf_counter()
            answer = await run_operation(body, schema=schema, context=ctx, limits=limits)
            c1, l1, w1 = time.process_time(), time.thread_time(), time.perf_counter()
        finally:
            gc.enable()
        facts = (answer, sorted(ctx.returned), ctx.flags)
        return facts, (c1 - c0) * 1e6, (l1 - l0) * 1e6, (w1 - w0) * 1e6

    out: dict[str, Any] = {}
    for scenario, items in bodies.items():
        for body in items[:20]:  # warm up both paths: plans, prepared statements, connections
            await one(body, False)
            await one(body, True)
        figures: dict[str, dict[str, list[float]]] = {
            mode: {"cpu": [], "loop": [], "wall": []} for mode in ("resolvers", "plans")
        }
        for start in range(0, len(items), BLOCK):
            block = items[start : start + BLOCK]
            answers: dict[str, list[Any]] = {}
            for mode in ("resolvers", "plans") if start % (2 * BLOCK) else ("plans", "resolvers"):
                gc.collect()
                answers[mode] = []
                for body in block:
                    facts, cpu, loop, wall = await one(body, mode == "plans")
                    answers[mode].append(facts)
                    figures[mode]["cpu"].append(cpu)
                    figures[mode]["loop"].append(loop)
                    figures[mode]["wall"].append(wall)
            if answers["plans"] != answers["resolvers"]:
                raise SystemExit(f"{scenario}: the plan path answered differently")
        out[scenario] = {
            mode: {k: round(statistics.mean(v), 1) for k, v in values.items()}
            for mode, values in figures.items()
        }
    PLANS.enabled = True
    for engine in engines.values():
        await engine.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sqlite", type=Path, help="a folder seeded by `govgate seed`")
    parser.add_argument("--postgres", help="a postgresql+asyncpg:// URL holding all four sources")
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    backends: dict[str, dict[str, str]] = {}
    if args.sqlite:
        backends["sqlite"] = default_urls(args.sqlite)
    if args.postgres:
        backends["postgresql"] = dict.fromkeys(SOURCES, args.postgres)
    results = {name: asyncio.run(_measure(urls, args.requests)) for name, urls in backends.items()}
    if args.json:
        print(json.dumps(results))
        return
    print(f"{'backend':11} {'scenario':8} {'path':10} {'cpu µs':>8} {'loop µs':>8} {'wall µs':>8}")
    for backend, scenarios in results.items():
        for scenario, modes in scenarios.items():
            for mode, f in modes.items():
                print(f"{backend:11} {scenario:8} {mode:10} {f['cpu']:8.0f} {f['loop']:8.0f}"
                      f" {f['wall']:8.0f}")  # fmt: skip
            ratio = modes["resolvers"]["cpu"] / modes["plans"]["cpu"]
            print(f"{'':11} {scenario:8} {'ratio':10} {ratio:8.1f}x")


if __name__ == "__main__":
    main()
