"""Drive the peer benchmark: govgate, PostGraphile 4 and pgbench on the same PostgreSQL rows.

    .venv/bin/python bench/peer_run.py --persons 100000 [--duration 15] [--repeat 3] ...

Normally started by bench/peer.sh, which installs wrk and PostGraphile first. In one run:

1. the sources' database (`--db`, default govgate_bench) is seeded with `govgate seed` unless it
   holds `--persons` persons and the proportional rest; the audit database (`--db`_audit) is
   made afresh; the schema `peer` is made afresh (two views and pgbench's sampled IDs);
2. keys are sampled and request bodies written for both dialects (bench/peer_scenarios.py);
3. SQL per request: each system is served once with one worker through a proxy that counts
   the statements it sends (bench/peer_proxy.py) while a few requests go one at a time;
4. both systems are served with `--workers` worker processes each, their answers compared
   for a sample of keys (the run stops at the first difference), then driven with wrk
   scenario by scenario, alternating the systems (and pgbench for s1) and repeating, so that
   the machine's noise falls on all of them; only the system being measured runs, the other
   is paused (SIGSTOP);
5. results go to bench/out/peer.json and the generated block of "## Peer comparison" in
   docs/benchmarks.md (bench/peer_report.py).

Every server listens on 127.0.0.1 and is stopped on exit, error, SIGINT and SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT))

import peer_report  # noqa: E402
import peer_scenarios as sc  # noqa: E402
from gw_run import busy_seconds, free_port, git_commit, loadavg, wait_quiet  # noqa: E402
from peer_proxy import StatementCounter, is_control  # noqa: E402
from peer_servers import (  # noqa: E402
    BackendSampler,
    Group,
    http_json,
    post_graphql,
    ticks_delta,
)

PYTHON = sys.executable
GOVGATE = str(Path(PYTHON).with_name("govgate"))
AGENCY = "GZ-PSB"  # reads every field the scenarios ask for, city-wide
PROPORTIONS = {"persons": 1, "legal_entities": 1 / 5, "land_parcels": 1 / 4, "licenses": 1 / 2}


# -- the database -----------------------------------------------------------------------------


def dsn(args: argparse.Namespace, database: str, driver: str = "") -> str:
    scheme = "postgresql+asyncpg" if driver == "asyncpg" else "postgresql"
    return f"{scheme}://{args.pg_user}@{args.pg_host}:{args.pg_port}/{database}"


async def _fetch(url: str, sql: str, *params: Any) -> list[Any]:
    import asyncpg  # noqa: PLC0415

    connection = await asyncpg.connect(url, timeout=10)
    try:
        return list(await connection.fetch(sql, *params))
    finally:
        await connection.close()


def query(url: str, sql: str, *params: Any) -> list[Any]:
    return asyncio.run(_fetch(url, sql, *params))


def counts(args: argparse.Namespace) -> dict[str, int]:
    """Rows per table in the sources' database (0 for a missing table)."""
    found = {}
    for table in PROPORTIONS:
        try:
            found[table] = query(dsn(args, args.db), f"SELECT count(*) FROM {table}")[0][0]  # noqa: S608
        except Exception as error:  # asyncpg.UndefinedTableError and kin
            if "does not exist" not in str(error):
                raise
            found[table] = 0
    return found


def databases(args: argparse.Namespace) -> dict[str, int]:
    """The sources' database (seeded unless it holds what is asked), a fresh audit database."""
    try:
        server = dsn(args, "postgres")
        have = {r[0] for r in query(server, "SELECT datname FROM pg_database")}
    except OSError as error:
        raise SystemExit(
            f"PostgreSQL does not answer at {args.pg_host}:{args.pg_port} ({error}); start it, "
            "or point PEER_PG_HOST / PEER_PG_PORT / PEER_PG_USER at one (trust auth)."
        ) from None
    if args.db not in have:
        query(server, f'CREATE DATABASE "{args.db}"')
    query(server, f'DROP DATABASE IF EXISTS "{args.audit_db}" WITH (FORCE)')
    query(server, f'CREATE DATABASE "{args.audit_db}"')
    found = counts(args)
    wanted = {t: int(args.persons * share) for t, share in PROPORTIONS.items()}
    if found == wanted:
        print(f"== {args.db} holds {args.persons:,} persons and the rest: not seeding", flush=True)
        return found
    print(f"== seeding {args.db}: {args.persons:,} persons and the proportional rest "
          f"(it held {found})", flush=True)  # fmt: skip
    url = dsn(args, args.db, "asyncpg")
    # One process: two seeding into one PostgreSQL database deadlock in their closing
    # ANALYZE (each analyses the whole database).
    sources = [f"--source={name}={url}" for name in ("persons", "entities", "land", "licenses")]
    command = [GOVGATE, "seed", "--persons", str(args.persons), "--replace", "--workers", "1",
               "--data", str(args.out / "seed"), *sources]  # fmt: skip
    subprocess.run(command, check=True, timeout=3600)
    found = counts(args)
    if found != wanted:
        raise SystemExit(f"seeding gave {found}, not {wanted}: see the output above.")
    return found


def peer_schema(args: argparse.Namespace, s1_ids: list[str]) -> None:
    """The views PostGraphile's smart tags name, and the IDs pgbench samples from."""

    async def run() -> None:
        import asyncpg  # noqa: PLC0415

        connection = await asyncpg.connect(dsn(args, args.db), timeout=10)
        try:
            await connection.execute(sc.PEER_SQL)
            await connection.copy_records_to_table(
                "s1_ids", schema_name=sc.PEER_SCHEMA, records=list(enumerate(s1_ids, 1))
            )
            await connection.execute(f"ANALYZE {sc.PEER_SCHEMA}.s1_ids")
        finally:
            await connection.close()

    asyncio.run(run())


def xacts(args: argparse.Namespace) -> dict[str, int]:
    """Transactions committed or rolled back so far, per bench database (pg_stat_database;
    each backend reports at most once a second, so a run's count is good to about a second)."""
    rows = query(dsn(args, "postgres"),
                 "SELECT datname, xact_commit + xact_rollback FROM pg_stat_database"
                 " WHERE datname = ANY($1::text[])", [args.db, args.audit_db])  # fmt: skip
    return {r[0]: int(r[1]) for r in rows}


# -- the servers ------------------------------------------------------------------------------


def govgate_config(args: argparse.Namespace, name: str, port: int, sources: str) -> Path:
    """A deployment file: every source on `sources`, the audit store on PostgreSQL, the
    development key for tokens (bench/out/peer/keys/dev-signing-key.pem)."""
    from gateway.identity.dev_keys import dev_signing_key  # noqa: PLC0415

    key = dev_signing_key(args.out)
    (args.out / "token-key.pem").write_text(key.public_pem(), "utf-8")
    audit = dsn(args, args.audit_db, "asyncpg")
    text = f"""# Written by bench/peer_run.py for the peer benchmark; made again every run.
[server]
host = "127.0.0.1"
port = {port}

[sources]
persons = "{sources}"
entities = "{sources}"
land = "{sources}"
licenses = "{sources}"

[source_options]
pool_size = {args.pool}
max_overflow = 0

[audit]
url = "{audit}"

[signing]
keys = "keys/gateway"

[policy]
catalog = "{ROOT / "catalog" / "guangzhou.yaml"}"
rules = "{ROOT / "catalog" / "guangzhou.rules.csv"}"

[identity.public_keys]
{key.kid} = "token-key.pem"
"""
    path: Path = args.out / f"{name}.toml"
    path.write_text(text, "utf-8")
    return path


def token(args: argparse.Namespace) -> str:
    from gateway.identity.dev_keys import dev_signing_key, issue_token  # noqa: PLC0415

    issued: str = issue_token(dev_signing_key(args.out), agency=AGENCY, ttl_seconds=6 * 3600)
    return issued


def start_govgate(args: argparse.Namespace, name: str, sources: str, workers: int) -> Group:
    port = free_port()
    config = govgate_config(args, name, port, sources)
    group = Group(name, [PYTHON, str(BENCH / "peer_serve.py"), "--config", str(config),
                         "--workers", str(workers)],
                  url=f"http://127.0.0.1:{port}", cwd=ROOT, log=args.out / f"{name}.log",
                  workers=workers)  # fmt: skip
    group.wait_ready(
        lambda: http_json(f"{group.url}/readyz") is not None,
        args.start_deadline,
        "Check the deployment file it names, and that PostgreSQL accepts more connections.",
    )
    return group


def start_postgraphile(args: argparse.Namespace, name: str, database: str, workers: int) -> Group:
    port = free_port()
    binary = args.out / "node" / "node_modules" / ".bin" / "postgraphile"
    if not binary.exists():
        raise SystemExit(f"{binary} is missing: run bench/peer.sh, which installs PostGraphile.")
    command = [str(binary), "--connection", database, "--schema", f"public,{sc.PEER_SCHEMA}",
               "--host", "127.0.0.1", "--port", str(port), "--max-pool-size", str(args.pool),
               "--simple-collections", "both", "--disable-query-log"]  # fmt: skip
    if workers > 1:
        command += ["--cluster-workers", str(workers)]
    env = dict(os.environ, NODE_ENV="production")
    # postgraphile.tags.json5 is read from the working folder (args.out).
    group = Group(name, command, url=f"http://127.0.0.1:{port}", cwd=args.out,
                  log=args.out / f"{name}.log", workers=workers, env=env)  # fmt: skip
    group.wait_ready(
        lambda: "data" in post_graphql(group.url, '{"query":"{__typename}"}'),
        args.start_deadline,
        "Check the smart tags (bench/out/peer/postgraphile.tags.json5) and the connection.",
    )
    return group


def write_tags(out: Path) -> None:
    (out / "postgraphile.tags.json5").write_text(
        "// Written by bench/peer_run.py (bench/peer_scenarios.py: TAGS); made again every run.\n"
        + json.dumps(sc.TAGS, indent=2)
        + "\n",
        "utf-8",
    )


# -- checks -----------------------------------------------------------------------------------


def _is_freshness(text: str) -> bool:
    """govgate's freshness monitor (MAX(updated_at) per source and minute): not per request."""
    return bool(re.search(r"max\([^)]*updated_at", text, re.IGNORECASE))


def count_sql(args: argparse.Namespace, files: dict[str, Path], tok: str) -> dict[str, Any]:
    """Statements per request, by system and scenario: each system served with one worker
    through its own counting proxy, `--sql-sample` requests one at a time."""
    found: dict[str, Any] = {}
    for system in sc.SYSTEMS:
        proxy = StatementCounter(args.pg_host, args.pg_port)
        port = proxy.start()
        try:
            check_proxy(args, proxy, port)
            name = f"{system}-sqlcount"
            database = f"postgresql://{args.pg_user}@127.0.0.1:{port}/{args.db}"
            if system == "govgate":
                asyncpg_url = database.replace("postgresql:", "postgresql+asyncpg:")
                group = start_govgate(args, name, asyncpg_url, 1)
            else:
                group = start_postgraphile(args, name, database, 1)
            try:
                for scenario in sc.SCENARIOS:
                    lines = files[f"{scenario}-{system}"].read_text("utf-8").splitlines()
                    # A few requests first: what a cold server does once (govgate's freshness
                    # check per source, prepared statements) is not per request.
                    for line in lines[-3:]:
                        post_graphql(group.url, line, tok if system == "govgate" else None)
                    lines = lines[: args.sql_sample]
                    time.sleep(0.2)
                    before = proxy.counts()
                    for line in lines:
                        answer = post_graphql(group.url, line, tok if system == "govgate" else None)
                        if answer.get("errors"):
                            raise SystemExit(f"{system} {scenario} answered an error: {answer}")
                    time.sleep(0.2)
                    delta = proxy.counts() - before
                    texts = {t: n for t, n in delta.items() if not _is_freshness(t)}
                    data = sum(n for t, n in texts.items() if not is_control(t))
                    total = sum(texts.values())
                    found[f"{scenario}-{system}"] = {
                        "requests": len(lines),
                        "statements_per_request": data / len(lines),
                        "round_trips_per_request": total / len(lines),
                        "texts": {t: n / len(lines) for t, n in sorted(texts.items())},
                    }
                    print(f"  SQL {system:12} {scenario}: {data / len(lines):.2f} statements, "
                          f"{total / len(lines):.2f} with transaction control, per request",
                          flush=True)  # fmt: skip
            finally:
                group.stop()
        finally:
            proxy.stop()
    return found


def check_proxy(args: argparse.Namespace, proxy: StatementCounter, port: int) -> None:
    """The counting proxy counts what it should: 3 executions of one prepared statement and a
    simple query of two statements are 5 (a run whose counts would be wrong stops here)."""

    async def run() -> None:
        import asyncpg  # noqa: PLC0415

        connection = await asyncpg.connect(
            f"postgresql://{args.pg_user}@127.0.0.1:{port}/{args.db}", timeout=10
        )
        try:
            for _ in range(3):
                await connection.fetchval("SELECT $1::int + 1 AS peer_proxy_check", 1)
            await connection.execute("SELECT 2 AS peer_proxy_check; SELECT 3 AS peer_proxy_check")
        finally:
            await connection.close()

    before = proxy.counts()
    asyncio.run(run())
    seen = sum(n for t, n in (proxy.counts() - before).items() if "peer_proxy_check" in t)
    if seen != 5:
        raise SystemExit(f"the SQL-counting proxy counted {seen} statements, not 5: "
                         "bench/peer_proxy.py no longer reads the protocol right.")  # fmt: skip


def compare(
    args: argparse.Namespace, servers: dict[str, Group], files: dict[str, Path], tok: str
) -> dict[str, Any]:
    """Both systems' answers for `--compare` keys per scenario, normalised to one shape, must be
    identical; the first difference stops the run (both answers in bench/out/peer/)."""
    result: dict[str, Any] = {}
    for scenario in sc.SCENARIOS:
        bodies = {s: files[f"{scenario}-{s}"].read_text("utf-8").splitlines() for s in sc.SYSTEMS}
        n = len(bodies["govgate"])
        step = max(1, n // max(args.compare, 1))
        picked = list(range(0, n, step))[: args.compare]
        for i in picked:
            answers = {
                s: post_graphql(servers[s].url, bodies[s][i], tok if s == "govgate" else None)
                for s in sc.SYSTEMS
            }
            shapes = {}
            for system, answer in answers.items():
                try:
                    shapes[system] = sc.normalise(scenario, answer)
                except (ValueError, KeyError, TypeError) as error:
                    dump = args.out / f"mismatch-{scenario}.json"
                    dump.write_text(json.dumps(answers, indent=2, ensure_ascii=False), "utf-8")
                    raise SystemExit(f"{scenario} key #{i}: {system} gave no comparable answer "
                                     f"({error}); both answers in {dump}") from None  # fmt: skip
                if not sc.non_empty(scenario, answer):
                    text = json.dumps(answer, ensure_ascii=False)[:400]
                    raise SystemExit(
                        f"{scenario} key #{i}: {system} found no data for a sampled key: {text}"
                    )
            if shapes["govgate"] != shapes["postgraphile"]:
                dump = args.out / f"mismatch-{scenario}.json"
                evidence = {
                    "request": {s: json.loads(bodies[s][i]) for s in sc.SYSTEMS},
                    "normalised": {s: json.loads(v) for s, v in shapes.items()},
                    "answers": answers,
                }
                dump.write_text(json.dumps(evidence, indent=2, ensure_ascii=False), "utf-8")
                raise SystemExit(
                    f"ANSWERS DIFFER: {scenario} key #{i} ({bodies['govgate'][i][:160]}...).\n"
                    f"  govgate:      {shapes['govgate'][:300]}\n"
                    f"  postgraphile: {shapes['postgraphile'][:300]}\n"
                    f"Both answers in {dump}. The figures would compare different work: fix the "
                    "operations (bench/peer_scenarios.py) or the system that is wrong."
                )
        result[scenario] = {"compared": len(picked), "identical": True}
        print(f"  {scenario}: {len(picked)} answers identical", flush=True)
    return result


# -- load -------------------------------------------------------------------------------------


#: PostgreSQL 15 backends report their transaction counts at most once a second while busy,
#: and 10 s after they go idle (PGSTAT_IDLE_INTERVAL): a run starts at least this long after
#: the previous one ended, so that none of its counts arrive during the next one's.
STATS_SETTLE_S = 11.0


def snapshot(args: argparse.Namespace, servers: dict[str, Group]) -> dict[str, Any]:
    """The counters a run is measured between. Transaction counts are read at once at both
    ends: each misses about the last half second before it, so the difference covers the
    run's length (the warm-up's rate equals the run's)."""
    return {
        "busy": busy_seconds(),
        "at": time.perf_counter(),
        "children": resource.getrusage(resource.RUSAGE_CHILDREN),
        "groups": {name: g.cpu() for name, g in servers.items()},
        "xacts": xacts(args),
    }


def usage(args: argparse.Namespace, before: dict[str, Any], after: dict[str, Any], *,
          db: float, requests: int, system: str) -> dict[str, Any]:  # fmt: skip
    """CPU in % of one core and per request, and transactions per request, over a run."""
    wall = after["at"] - before["at"]
    client = (after["children"].ru_utime - before["children"].ru_utime) + (
        after["children"].ru_stime - before["children"].ru_stime
    )
    groups = {n: ticks_delta(before["groups"][n], after["groups"][n]) for n in before["groups"]}
    server = groups.get(system, 0.0)
    busy = after["busy"] - before["busy"]
    x = {d: after["xacts"].get(d, 0) - before["xacts"].get(d, 0) for d in after["xacts"]}
    return {
        "server_cpu_pct": 100 * server / wall,
        "db_cpu_pct": 100 * db / wall,
        "client_cpu_pct": 100 * client / wall,
        "idle_servers_cpu_pct": 100 * sum(v for n, v in groups.items() if n != system) / wall,
        "other_cpu_pct": max(0.0, 100 * (busy - sum(groups.values()) - db - client) / wall),
        "server_cpu_ms_per_request": 1e3 * server / max(requests, 1),
        "db_cpu_ms_per_request": 1e3 * db / max(requests, 1),
        "sources_xacts_per_request": x.get(args.db, 0) / max(requests, 1),
        "audit_xacts_per_request": x.get(args.audit_db, 0) / max(requests, 1),
    }


def run_wrk(args: argparse.Namespace, servers: dict[str, Group], system: str, bodies: Path,
            tok: str | None) -> dict[str, Any]:  # fmt: skip
    url = servers[system].url
    command = ["wrk", f"-t{args.threads}", f"-c{args.connections}", "--timeout", "10s",
               "-s", str(BENCH / "gw_wrk.lua"), url, "--", str(bodies), tok or ""]  # fmt: skip
    if args.warmup > 0:
        subprocess.run([*command[:1], f"-d{args.warmup}s", *command[1:]], capture_output=True,
                       timeout=args.warmup + 60, check=False)  # fmt: skip
    sampler = BackendSampler((args.db, args.audit_db))
    before = snapshot(args, servers)
    sampler.start()
    done = subprocess.run([*command[:1], f"-d{args.duration}s", *command[1:]],
                          capture_output=True, text=True, timeout=args.duration + 60,
                          check=False)  # fmt: skip
    after = snapshot(args, servers)
    db = sampler.stop()
    servers[system].settle(10)  # requests in flight finish before the server is paused
    line = next((x for x in done.stdout.splitlines() if x.startswith("GWBENCH ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout}\n{done.stderr}")
    result: dict[str, Any] = json.loads(line.removeprefix("GWBENCH "))
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    result.update(usage(args, before, after, db=db, requests=result["requests"], system=system))
    result["failed"] = sum(result[k] for k in ("connect_errors", "read_errors", "write_errors",
                                               "timeouts", "non_2xx", "not_200",
                                               "graphql_errors"))  # fmt: skip
    result["restarted"] = servers[system].restarted()
    return result


PGBENCH_SQL = """\\set n random(1, {n})
SELECT id_number, name, gender, birth_date, ethnicity, division_code, address, status
  FROM public.persons
 WHERE id_number = (SELECT id_number FROM {schema}.s1_ids WHERE n = :n);
"""


def run_pgbench(args: argparse.Namespace, servers: dict[str, Group], clients: int,
                script: Path) -> dict[str, Any]:  # fmt: skip
    command = ["pgbench", "-n", "-M", "prepared", "-c", str(clients), "-j",
               str(min(clients, os.cpu_count() or 2)), "-f", str(script), "-h", args.pg_host,
               "-p", str(args.pg_port), "-U", args.pg_user]  # fmt: skip
    if args.warmup > 0:
        subprocess.run([*command, "-T", str(args.warmup), args.db], capture_output=True,
                       timeout=args.warmup + 60, check=False)  # fmt: skip
    # Latencies of a 2% sample of the transactions (pgbench prints only the mean).
    logs = args.out / "pgbench-log"
    shutil.rmtree(logs, ignore_errors=True)
    logs.mkdir()
    sample = ["-l", "--sampling-rate", "0.02", f"--log-prefix={logs / 'tx'}"]
    sampler = BackendSampler((args.db, args.audit_db))
    before = snapshot(args, servers)
    sampler.start()
    done = subprocess.run([*command, *sample, "-T", str(args.duration), args.db],
                          capture_output=True, text=True, timeout=args.duration + 60,
                          check=False)  # fmt: skip
    db = sampler.stop()
    after = snapshot(args, servers)
    tps = re.search(r"tps = ([\d.]+) \(without initial connection time\)", done.stdout)
    latency = re.search(r"latency average = ([\d.]+) ms", done.stdout)
    processed = re.search(r"number of transactions actually processed: (\d+)", done.stdout)
    failed = re.search(r"number of failed transactions: (\d+)", done.stdout)
    if done.returncode != 0 or tps is None or processed is None:
        raise RuntimeError(f"pgbench failed ({done.returncode}): {done.stdout}\n{done.stderr}")
    requests = int(processed.group(1))
    result: dict[str, Any] = {
        "rps": float(tps.group(1)),
        "requests": requests,
        "mean_latency_ms": float(latency.group(1)) if latency else None,
        "failed": int(failed.group(1)) if failed else 0,
        "clients": clients,
        **_percentiles(logs),
    }
    result.update(usage(args, before, after, db=db, requests=requests, system="pgbench"))
    # pgbench's own CPU is the client's; PostgreSQL's backends are the server here.
    result["server_cpu_pct"] = result["db_cpu_pct"]
    result["server_cpu_ms_per_request"] = result["db_cpu_ms_per_request"]
    return result


def _percentiles(logs: Path) -> dict[str, float]:
    """p50 and p99 in µs from pgbench's per-transaction logs (3rd field: latency in µs)."""
    latencies = sorted(
        int(line.split()[2]) for path in logs.iterdir() for line in path.read_text().splitlines()
    )
    if not latencies:
        return {}
    return {
        "p50_us": latencies[len(latencies) // 2],
        "p99_us": latencies[min(len(latencies) - 1, len(latencies) * 99 // 100)],
        "latency_sample": len(latencies),
    }


def combine(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The median of each figure over a point's runs; all runs stay in `runs`."""
    med = {}
    for key in ("rps", "p50_us", "p99_us", "mean_latency_ms", "server_cpu_pct", "db_cpu_pct",
                "client_cpu_pct", "other_cpu_pct", "idle_servers_cpu_pct",
                "server_cpu_ms_per_request", "db_cpu_ms_per_request",
                "sources_xacts_per_request", "audit_xacts_per_request"):  # fmt: skip
        values = [r[key] for r in runs if r.get(key) is not None]
        if values:
            med[key] = statistics.median(values)
    med["rps_runs"] = [round(r["rps"], 1) for r in runs]
    med["failed"] = sum(r["failed"] for r in runs)
    med["other_cpu_pct_max"] = max(r["other_cpu_pct"] for r in runs)
    med["restarted"] = any(r.get("restarted") for r in runs)
    med["contended_runs"] = sum(1 for r in runs if r.get("contended"))
    return med


def measure(args: argparse.Namespace, servers: dict[str, Group], files: dict[str, Path],
            tok: str, script: Path) -> dict[str, list[dict[str, Any]]]:  # fmt: skip
    """Every point `--repeat` times; per scenario the systems take turns, the first of each
    repetition rotating, so a slow minute of the machine falls on each in turn."""
    runs: dict[str, list[dict[str, Any]]] = {}
    discarded: list[dict[str, Any]] = []
    runs["discarded"] = discarded
    settled_at = time.monotonic() + STATS_SETTLE_S  # after the comparison's requests
    for server in servers.values():
        server.pause()
    for rep in range(args.repeat):
        for scenario in sc.SCENARIOS:
            systems = list(sc.SYSTEMS)
            if scenario == "s1":
                systems += [f"pgbench-c{c}" for c in args.pgbench_clients]
            k = rep % len(systems)
            for system in systems[k:] + systems[:k]:
                group = servers.get(system)
                if group is not None:
                    group.resume()
                    time.sleep(1)  # its timers catch up before the warm-up
                for attempt in range(1 + args.retries):
                    waited = wait_quiet(args)
                    time.sleep(max(0.0, settled_at - time.monotonic()))
                    if group is None:
                        clients = int(system.removeprefix("pgbench-c"))
                        result = run_pgbench(args, servers, clients, script)
                    else:
                        result = run_wrk(args, servers, system, files[f"{scenario}-{system}"],
                                         tok if system == "govgate" else None)  # fmt: skip
                    settled_at = time.monotonic() + STATS_SETTLE_S
                    result["waited_for_quiet_s"] = round(waited)
                    result["contended"] = result["other_cpu_pct"] > args.max_others
                    if (
                        not result["contended"]
                        or attempt == args.retries
                        or (args.quiet_budget <= 0)
                    ):
                        break
                    print(f"  [{rep + 1}/{args.repeat}] {scenario} {system:13} {result['rps']:9.1f}"
                          f" req/s  discarded: others used {result['other_cpu_pct']:.0f}% of a "
                          "core; again when quiet", flush=True)  # fmt: skip
                    discarded.append({"point": f"{scenario}/{system}", **result})
                if group is not None:
                    group.pause()
                runs.setdefault(f"{scenario}/{system}", []).append(result)
                p99 = f"p99 {result.get('p99_us', 0) / 1000:6.1f} ms"
                print(f"  [{rep + 1}/{args.repeat}] {scenario} {system:13} {result['rps']:9.1f}"
                      f" req/s  {p99}  server CPU {result['server_cpu_pct']:4.0f}%  DB CPU "
                      f"{result['db_cpu_pct']:4.0f}%  client {result['client_cpu_pct']:3.0f}%  "
                      f"others {result['other_cpu_pct']:3.0f}%  failed {result['failed']}"
                      + ("  WORKER RESTARTED" if result.get("restarted") else ""),
                      flush=True)  # fmt: skip
                if result["failed"]:
                    raise SystemExit(
                        f"{scenario} on {system}: {result['failed']} requests failed (HTTP "
                        "status, GraphQL errors or timeouts); see the server's log in "
                        f"{args.out}/ and send one body by hand to see why."
                    )
    return runs


# -- the run ----------------------------------------------------------------------------------


def versions(args: argparse.Namespace) -> dict[str, Any]:
    def out(command: list[str]) -> str:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            done = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
            return (done.stdout + done.stderr).strip().splitlines()[0]
        return "?"

    package = args.out / "node" / "node_modules" / "postgraphile" / "package.json"
    meminfo = Path("/proc/meminfo").read_text()
    kib = int(re.search(r"MemTotal:\s+(\d+)", meminfo).group(1))  # type: ignore[union-attr]
    cpu = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
    server = query(dsn(args, "postgres"), "SHOW server_version")[0][0]
    return {
        "cores": os.cpu_count(),
        "cpu": cpu.group(1).strip() if cpu else platform.processor(),
        "memory_gib": round(kib / 1024 / 1024),
        "kernel": f"{platform.system()} {platform.release()} {platform.machine()}",
        "python": platform.python_version(),
        "postgresql": server,
        "node": out(["node", "--version"]),
        "postgraphile": json.loads(package.read_text())["version"] if package.exists() else "?",
        "pgbench": out(["pgbench", "--version"]),
        "wrk": out(["wrk", "-v"]).split("[")[0].strip(),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    args.out.mkdir(parents=True, exist_ok=True)
    Group.pid_file = args.out / "servers.pgid"
    started = time.monotonic()
    rows = databases(args)
    print("== sampling keys and writing request bodies", flush=True)
    keys = asyncio.run(sc.sample_keys(dsn(args, args.db)))
    peer_schema(args, keys["s1"])
    write_tags(args.out)
    files = sc.write_bodies(args.out / "bodies", keys)
    script = args.out / "pgbench-s1.sql"
    script.write_text(PGBENCH_SQL.format(n=len(keys["s1"]), schema=sc.PEER_SCHEMA), "utf-8")
    tok = token(args)
    results: dict[str, Any] = {
        "generated": datetime.now(UTC).strftime("%Y-%m-%dT%H:%MZ"),
        "command": args.command,
        "commit": git_commit(),
        "machine": versions(args),
        "data": {"database": args.db, "audit_database": args.audit_db, "rows": rows},
        "load": {"tool": "wrk", "threads": args.threads, "connections": args.connections,
                 "duration_s": args.duration, "warmup_s": args.warmup, "repeat": args.repeat,
                 "workers": args.workers, "pool": args.pool, "compare": args.compare,
                 "pgbench_clients": args.pgbench_clients, "max_others_pct": args.max_others,
                 "quiet_budget_s": args.quiet_budget},
        "bodies": {name: len(keys[name.split("-")[0]]) for name in files},
        "pgbench_script": script.read_text("utf-8"),
        "loadavg_before": loadavg(),
    }  # fmt: skip
    print("== SQL per request (one worker each, through a counting proxy)", flush=True)
    results["sql"] = count_sql(args, files, tok)
    print(f"== serving both with {args.workers} workers", flush=True)
    database = dsn(args, args.db)
    servers = {
        "govgate": start_govgate(args, "govgate", dsn(args, args.db, "asyncpg"), args.workers),
        "postgraphile": start_postgraphile(args, "postgraphile", database, args.workers),
    }
    print("== comparing answers", flush=True)
    results["comparison"] = compare(args, servers, files, tok)
    print(f"== measuring: {args.repeat} x ({args.warmup} s warm-up + {args.duration} s) per "
          "point, systems alternating", flush=True)  # fmt: skip
    runs = measure(args, servers, files, tok, script)
    for group in list(servers.values()):
        group.stop()
    results["discarded_runs"] = runs.pop("discarded")
    results["points"] = {key: {"runs": r, **combine(r)} for key, r in runs.items()}
    results["loadavg_after"] = loadavg()
    results["wall_s"] = round(time.monotonic() - started)
    results["summary"] = peer_report.summarize(results)
    return results


def main() -> None:
    env = os.environ.get
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--out", type=Path, default=BENCH / "out" / "peer")
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--pool", type=int, default=4,
                        help="Connections per worker and source (govgate pool_size, no "
                        "overflow; PostGraphile --max-pool-size). Default 4.")  # fmt: skip
    parser.add_argument("--compare", type=int, default=50, help="Keys compared per scenario.")
    parser.add_argument("--sql-sample", type=int, default=20,
                        help="Requests per scenario sent one at a time to count SQL.")  # fmt: skip
    parser.add_argument("--pgbench-clients", type=lambda t: [int(x) for x in t.split(",")],
                        default=[2, 4, 8])  # fmt: skip
    parser.add_argument("--max-others", type=float, default=25.0)
    parser.add_argument("--quiet-budget", type=float, default=600.0,
                        help="Seconds the run may wait, in all, for other processes to use at "
                        "most --max-others %% of a core before each run (60 s at most per "
                        "run); a run during which they used more is measured again, at most "
                        "--retries times, while the budget lasts.")  # fmt: skip
    parser.add_argument("--retries", type=int, default=2)
    parser.add_argument("--start-deadline", type=float, default=120.0)
    parser.add_argument("--pg-host", default=env("PEER_PG_HOST", "127.0.0.1"))
    parser.add_argument("--pg-port", type=int, default=int(env("PEER_PG_PORT", "5432")))
    parser.add_argument("--pg-user", default=env("PEER_PG_USER", "postgres"))
    parser.add_argument("--db", default="govgate_bench")
    parser.add_argument("--doc", default=str(ROOT / "docs" / "benchmarks.md"))
    parser.add_argument("--command", default="bench/peer.sh")
    args = parser.parse_args()
    args.out = args.out.resolve()
    args.audit_db = f"{args.db}_audit"
    for tool in ("wrk", "pgbench", "node"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed; run bench/peer.sh, which installs it.")

    def stop(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        results = run(args)
    except SystemExit as stopped:
        if stopped.code in (128 + signal.SIGINT, 128 + signal.SIGTERM):
            print(f"\ninterrupted: stopping {len(Group.running)} server(s)", flush=True)
        raise
    finally:
        Group.stop_all()
    out = args.out.parent / "peer.json"
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", "utf-8")
    block = peer_report.markdown(results)
    (args.out / "peer.md").write_text(block + "\n", "utf-8")
    if args.doc != "-":
        peer_report.write_doc(Path(args.doc), block)
    print(f"\nwrote {out}" + ("" if args.doc == "-" else f" and {args.doc}"))
    print(block)


if __name__ == "__main__":
    main()
