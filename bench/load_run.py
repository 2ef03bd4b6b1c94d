"""The load test: mixed traffic for a minute on `govgate serve --workers 2` over PostgreSQL.

    .venv/bin/python bench/load_run.py [--persons N] [--duration S] [--workers W]

Normally started by bench/load.sh (which installs wrk first). Every source and the audit store
are PostgreSQL databases on the local server (`--pg`); the sources are seeded once with
`govgate seed` and kept for later runs, the audit store is made afresh each run. While wrk
drives the gateway, the worker processes' memory is sampled every two seconds. Afterwards the
run is checked: no HTTP or GraphQL errors, exactly one audit record per request the gateway
answered (from its own /metrics count, and wrk's), an intact chain (`govgate audit verify`),
and memory that does not grow. Results go to bench/out/load/ and the generated block of
"## Load test" in docs/benchmarks.md. Exit status 1 when a check fails.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parents[1]
GOVGATE = ROOT / ".venv" / "bin" / "govgate"
SOURCES_DB = "govgate_load_sources"
AUDIT_DB = "govgate_load_audit"

PERSON = "idNumber name gender birthDate divisionCode address status"
#: (agency, weight, operation): the mix of a working day, every answer expected without errors.
MIX: list[tuple[str, int, str]] = [
    ("GZ-PSB", 35, "query P($id: String!) { person(idNumber: $id) { " + PERSON + " } }"),
    ("GZ-PSB", 15, "query A($id: String!) { person(idNumber: $id) { idNumber name"
                   " licenses { licenseNumber kind status } landRights { parcelCode landUse }"
                   " representedEntities { creditCode name } } }"),
    ("GZ-AMR", 20, "query E($code: String!) { legalEntity(creditCode: $code) { creditCode name"
                   " kind status representative { name } licenses { licenseNumber status"
                   " validUntil seal { issuer valid } } } }"),
    ("GZ-PNR", 10, "query L($code: String!) { landParcel(parcelCode: $code) { parcelCode"
                   " landUse area rightHolderPerson { name } rightHolderEntity { name } } }"),
    ("TH-CA", 15, "query T($after: String) { persons(first: 20, after: $after) { edges { node"
                  " { idNumber name maritalStatus } } pageInfo { endCursor } } }"),
    ("GZ-WATER", 5, "query V($id: String!, $n: String) { verifyPerson(idNumber: $id, name: $n)"
                    " { match } }"),
]  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--duration", type=int, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "load")
    parser.add_argument("--doc", default=str(ROOT / "docs" / "benchmarks.md"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    result = run(args)
    (args.out / "load.json").write_text(json.dumps(result, indent=2), "utf-8")
    block = report(result)
    (args.out / "load.md").write_text(block, "utf-8")
    if args.doc != "-":
        rewrite(Path(args.doc), block)
    print(block)
    return 0 if result["passed"] else 1


def run(args: argparse.Namespace) -> dict[str, Any]:
    sources = f"{args.pg}/{SOURCES_DB}".replace("postgresql://", "postgresql+asyncpg://")
    audit = f"{args.pg}/{AUDIT_DB}".replace("postgresql://", "postgresql+asyncpg://")
    asyncio.run(fresh_databases(args.pg))
    seed_if_needed(args, sources)
    keys = asyncio.run(sample(f"{args.pg}/{SOURCES_DB}"))
    config, metrics_url = deployment(args.out, sources, audit)
    lines = requests_file(args.out, keys)
    with serving(config, args.workers) as (url, server):
        sampler = MemorySampler(server.pid)
        sampler.start()
        wrk = drive(url, lines, args.duration, args.connections)
        sampler.stop()
        time.sleep(2)  # requests wrk cut off at the end finish and are recorded
        served = requests_served(metrics_url)
    audited = asyncio.run(count_audit(f"{args.pg}/{AUDIT_DB}"))
    verify = subprocess.run([str(GOVGATE), "audit", "verify", "--config", str(config)],
                            capture_output=True, text=True, check=False)  # fmt: skip
    errors = wrk["not_200"] + wrk["graphql_errors"] + wrk["connect_errors"] + wrk["read_errors"]
    memory = sampler.summary()
    checks = {
        "no errors": errors == 0 and wrk["timeouts"] == 0,
        "every answered request audited": served is None or audited == served,
        "audit covers wrk's requests": 0 <= audited - wrk["requests"] <= 2 * args.connections,
        "audit chain intact": verify.returncode == 0,
        "memory flat (< 20 MiB growth per worker after warm-up)": memory["max_growth_mib"] < 20,
    }  # fmt: skip
    return {
        "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "persons": args.persons,
        "workers": args.workers,
        "connections": args.connections,
        "duration_s": args.duration,
        "wrk": wrk,
        "requests_per_s": round(wrk["requests"] / (wrk["duration_us"] / 1e6), 1),
        "served_by_metrics": served,
        "audited": audited,
        "verify": (verify.stdout + verify.stderr).strip().splitlines()[-1:],
        "memory": memory,
        "checks": checks,
        "passed": all(checks.values()),
        "machine": machine(),
    }


# -- databases ------------------------------------------------------------------------------


async def fresh_databases(server: str) -> None:
    """The sources' database if missing (kept between runs); the audit database afresh."""
    connection = await asyncpg.connect(f"{server}/postgres", timeout=10)
    try:
        found = await connection.fetchval(
            "SELECT 1 FROM pg_database WHERE datname = $1", SOURCES_DB
        )
        if not found:
            await connection.execute(f'CREATE DATABASE "{SOURCES_DB}"')
        await connection.execute(f'DROP DATABASE IF EXISTS "{AUDIT_DB}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{AUDIT_DB}"')
    finally:
        await connection.close()


def seed_if_needed(args: argparse.Namespace, url: str) -> None:
    have = asyncio.run(count_persons(f"{args.pg}/{SOURCES_DB}"))
    if have == args.persons:
        print(f"sources hold {have:,} persons already: not seeding", file=sys.stderr)
        return
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    names = ("persons", "entities", "land", "licenses")
    command = [str(GOVGATE), "seed", "--persons", str(args.persons), "--replace", "--as-of",
               today, "--data", str(args.out / "data"), "--workers", "2",
               *(f"--source={name}={url}" for name in names)]  # fmt: skip
    subprocess.run(command, check=True)


async def count_persons(dsn: str) -> int:
    connection = await asyncpg.connect(dsn, timeout=10)
    try:
        return int(await connection.fetchval("SELECT count(*) FROM persons") or 0)
    except asyncpg.UndefinedTableError:
        return 0
    finally:
        await connection.close()


async def count_audit(dsn: str) -> int:
    connection = await asyncpg.connect(dsn, timeout=10)
    try:
        return int(await connection.fetchval("SELECT count(*) FROM audit_log"))
    finally:
        await connection.close()


async def sample(dsn: str) -> dict[str, list[Any]]:
    """Real keys for every operation, a fixed random sample (repeatable runs)."""
    connection = await asyncpg.connect(dsn, timeout=10)
    try:
        await connection.execute("SELECT setseed(0.42)")
        persons = await connection.fetch(
            "SELECT id_number, name FROM persons ORDER BY random() LIMIT 5000"
        )
        entities = await connection.fetch(
            "SELECT credit_code FROM legal_entities ORDER BY random() LIMIT 2000"
        )
        parcels = await connection.fetch(
            "SELECT parcel_code FROM land_parcels ORDER BY random() LIMIT 2000"
        )
        tianhe = await connection.fetch(
            "SELECT id_number FROM persons WHERE division_code = '440106' "
            "ORDER BY random() LIMIT 500"
        )
    finally:
        await connection.close()
    return {
        "persons": [(r["id_number"], r["name"]) for r in persons],
        "entities": [r["credit_code"] for r in entities],
        "parcels": [r["parcel_code"] for r in parcels],
        "tianhe": [r["id_number"] for r in tianhe],
    }


# -- the deployment -------------------------------------------------------------------------


def deployment(out: Path, sources: str, audit: str) -> tuple[Path, str]:
    """A deployment file (every source and the audit store on PostgreSQL, the dev key) and
    where its metrics listener answers."""
    sys.path.insert(0, str(ROOT))
    from gateway.identity.dev_keys import dev_signing_key  # noqa: PLC0415 (the project, after sys.path)

    key = dev_signing_key(out)
    (out / "token-key.pem").write_text(key.public_pem(), "utf-8")
    metrics_port = free_port()
    text = f"""
[server]
host = "127.0.0.1"
port = {free_port()}

[metrics]
listen = "127.0.0.1:{metrics_port}"

[sources]
persons = "{sources}"
entities = "{sources}"
land = "{sources}"
licenses = "{sources}"

[source_options]
pool_size = 8
max_overflow = 8

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
    path = out / "govgate.toml"
    path.write_text(text, "utf-8")
    return path, f"http://127.0.0.1:{metrics_port}"


def requests_file(out: Path, keys: dict[str, list[Any]]) -> Path:
    """`TOKEN<TAB>BODY` lines in the proportions of MIX, shuffled with a fixed seed."""
    from gateway.identity.dev_keys import dev_signing_key, issue_token  # noqa: PLC0415

    key = dev_signing_key(out)
    tokens = {agency: issue_token(key, agency=agency, ttl_seconds=3 * 3600) for agency, *_ in MIX}
    rng = random.Random(7)
    lines = []
    for agency, weight, operation in MIX:
        for _ in range(weight * 40):
            lines.append(f"{tokens[agency]}\t{json.dumps(body(operation, keys, rng))}")
    rng.shuffle(lines)
    path = out / "requests.txt"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def body(operation: str, keys: dict[str, list[Any]], rng: random.Random) -> dict[str, Any]:
    name = re.match(r"query (\w+)", operation)
    variables: dict[str, Any] = {}
    if "$id" in operation:
        person, real_name = rng.choice(keys["persons"])
        variables["id"] = person
        if "$n" in operation:
            variables["n"] = real_name
    elif "$code" in operation and "legalEntity" in operation:
        variables["code"] = rng.choice(keys["entities"])
    elif "$code" in operation:
        variables["code"] = rng.choice(keys["parcels"])
    elif "$after" in operation:
        import base64  # noqa: PLC0415

        start = rng.choice(keys["tianhe"])
        variables["after"] = base64.urlsafe_b64encode(f"v1:{start}".encode()).decode()
    return {"query": operation, "operationName": name.group(1) if name else None,
            "variables": variables}  # fmt: skip


def free_port() -> int:
    import socket  # noqa: PLC0415

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class serving:
    """`govgate serve --config FILE --workers W` as a subprocess, up and ready."""

    def __init__(self, config: Path, workers: int) -> None:
        self.config = config
        self.workers = workers
        port = re.search(r"port = (\d+)", config.read_text("utf-8"))
        self.url = f"http://127.0.0.1:{port.group(1) if port else 8000}"

    def __enter__(self) -> tuple[str, subprocess.Popen[bytes]]:
        log = (self.config.parent / "server.log").open("wb")
        self.process = subprocess.Popen(
            [str(GOVGATE), "serve", "--config", str(self.config), "--workers", str(self.workers)],
            stdout=log, stderr=subprocess.STDOUT, cwd=self.config.parent,
        )  # fmt: skip
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/readyz", timeout=5).status_code == 200:
                    return self.url, self.process
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        self.process.kill()
        raise RuntimeError(f"the gateway did not become ready; see {log.name}")

    def __exit__(self, *_: object) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def drive(url: str, lines: Path, duration: int, connections: int) -> dict[str, Any]:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("wrk is missing: run bench/load.sh, which installs it")
    script = ROOT / "bench" / "gw_wrk.lua"
    done = subprocess.run(
        [wrk, "-t2", f"-c{connections}", f"-d{duration}s", "--timeout", "10s", "-s",
         str(script), url, "--", str(lines)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    for line in done.stdout.splitlines():
        if line.startswith("GWBENCH "):
            return dict(json.loads(line.removeprefix("GWBENCH ")))
    raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout}\n{done.stderr}")


def requests_served(metrics_url: str) -> int | None:
    """The gateway's own count of requests answered (its metrics listener), if it has one."""
    try:
        text = httpx.get(f"{metrics_url}/metrics", timeout=10).text
    except httpx.HTTPError:
        return None
    total = 0.0
    found = False
    for line in text.splitlines():
        if line.startswith("govgate_requests_total{"):
            total += float(line.rsplit(" ", 1)[1])
            found = True
    return int(total) if found else None


# -- memory ---------------------------------------------------------------------------------


class MemorySampler(threading.Thread):
    """Resident memory of the server and its worker processes, every two seconds."""

    def __init__(self, parent: int) -> None:
        super().__init__(daemon=True)
        self.parent = parent
        self.samples: list[tuple[float, dict[int, float]]] = []
        self._halt = threading.Event()
        self.started_at = time.monotonic()

    def run(self) -> None:
        while not self._halt.wait(2.0):
            self.samples.append((time.monotonic() - self.started_at, self.rss()))

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=5)

    def rss(self) -> dict[int, float]:
        """pid -> MiB for the parent and every process whose parent is it."""
        pids = [self.parent]
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(fields[1]) == self.parent:
                    pids.append(int(entry.name))
        out = {}
        for pid in pids:
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            match = re.search(r"VmRSS:\s+(\d+) kB", status)
            if match:
                out[pid] = int(match.group(1)) / 1024
        return out

    def summary(self) -> dict[str, Any]:
        """Per process: MiB after 10 s (warm) and at the end, and the largest growth."""
        if len(self.samples) < 10:
            return {"max_growth_mib": 0.0, "processes": {}, "note": "too short to judge"}
        warm = next(values for at, values in self.samples if at >= 10)
        last = self.samples[-1][1]
        processes = {
            str(pid): {"warm_mib": round(warm[pid], 1), "end_mib": round(last[pid], 1)}
            for pid in warm
            if pid in last
        }
        growth = max((p["end_mib"] - p["warm_mib"] for p in processes.values()), default=0.0)
        return {"max_growth_mib": round(growth, 1), "processes": processes}


# -- report ---------------------------------------------------------------------------------


def machine() -> str:
    cores = os.cpu_count()
    memory = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))  # type: ignore[union-attr]
    return f"{cores} cores, {memory / 1024 / 1024:.0f} GiB, Python {sys.version.split()[0]}"


def report(result: dict[str, Any]) -> str:
    wrk = result["wrk"]
    rows = "\n".join(
        f"| {name} | {'yes' if ok else '**NO**'} |" for name, ok in result["checks"].items()
    )
    memory = "; ".join(
        f"worker {pid}: {m['warm_mib']} -> {m['end_mib']} MiB"
        for pid, m in result["memory"].get("processes", {}).items()
    )
    return f"""Measured {result["when"]} on {result["machine"]}: {result["persons"]:,} persons,
every source and the audit store on PostgreSQL, {result["workers"]} workers, wrk with
{result["connections"]} connections for {result["duration_s"]} s.

| | |
|---|---|
| requests | {wrk["requests"]:,} ({result["requests_per_s"]:,} per second) |
| latency p50 / p90 / p99 / max | {wrk["p50_us"] / 1000:.1f} / {wrk["p90_us"] / 1000:.1f} / {wrk["p99_us"] / 1000:.1f} / {wrk["max_us"] / 1000:.0f} ms |
| HTTP errors, GraphQL errors, timeouts | {wrk["not_200"]}, {wrk["graphql_errors"]}, {wrk["timeouts"]} |
| requests the gateway counted (/metrics) | {result["served_by_metrics"] if result["served_by_metrics"] is not None else "n/a"} |
| audit records | {result["audited"]:,} |
| `govgate audit verify` | {" ".join(result["verify"])} |
| memory (RSS, after 10 s -> end) | {memory} |

| check | passed |
|---|---|
{rows}
"""  # noqa: E501 (a Markdown table row is one line)


def rewrite(doc: Path, block: str) -> None:
    """Replace the generated block of "## Load test" in `doc` (between the markers)."""
    begin, end = "<!-- load:begin -->", "<!-- load:end -->"
    text = doc.read_text("utf-8")
    if begin not in text:
        print(f"{doc} has no {begin} marker: not rewritten", file=sys.stderr)
        return
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    doc.write_text(f"{head}{begin}\n{block}{end}{tail}", "utf-8")


if __name__ == "__main__":
    sys.exit(main())
