"""Drive the gateway benchmark: servers, wrk runs, checks, profile, results and the report.

    .venv/bin/python bench/gw_run.py --data bench/out/gw-data [--duration 15] [--repeat 2]

Normally started by bench/gateway.sh, which seeds the data and installs wrk first. Every server
it starts (bench/gw_serve.py on 127.0.0.1, a free port) is stopped on exit, on error and on
SIGINT/SIGTERM. It writes bench/out/gateway.json and rewrites its own generated block of the
"## Gateway throughput" section at the end of docs/benchmarks.md (appending the section when it
is missing; nothing else in the file is touched).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, ClassVar

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PYTHON = sys.executable
GOVGATE = str(Path(PYTHON).with_name("govgate"))
CLK_TCK = os.sysconf("SC_CLK_TCK")

BEGIN = "<!-- bench/gateway.sh: generated, do not edit by hand (begin) -->"
END = "<!-- bench/gateway.sh: generated (end) -->"
SECTION = "## Gateway throughput"

SCENARIOS = {
    "s1": "One person by ID, 8 fields (persons source)",
    "s2": "One person with licences, land rights and represented entities (all four sources)",
    "s3": "A page of 100 persons, each with its licences (persons + licences)",
}

sys.path.insert(0, str(BENCH))
from gw_scenarios import write_bodies  # noqa: E402

# -- servers ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


#: The product's source folders the servers import, copied at the start of a run (see run()).
SNAPSHOT_DIRS = ("gateway", "resolvers", "policies", "sources", "catalog")


def snapshot(out: Path) -> Path:
    """Copy the product's source into `out`/gw-src: the servers import it from there, so edits
    to the checkout during a run (it takes a quarter of an hour) do not mix two versions."""
    dest = out / "gw-src"
    shutil.rmtree(dest, ignore_errors=True)
    for name in SNAPSHOT_DIRS:
        shutil.copytree(ROOT / name, dest / name,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))  # fmt: skip
    return dest


def baseline_source(out: Path, commit: str) -> Path:
    """The product's source at `commit` (git archive; the checkout is not touched)."""
    dest = out / "gw-src-baseline"
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", "--format=tar", commit, *SNAPSHOT_DIRS],
                             cwd=ROOT, capture_output=True, check=True)  # fmt: skip
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    return dest


class Server:
    """bench/gw_serve.py in its own session; stopped by `stop()` (idempotent)."""

    running: ClassVar[list[Server]] = []
    #: Where the servers import the product from (PYTHONPATH); None: the installed checkout.
    default_source: ClassVar[Path | None] = None

    def __init__(
        self, data: Path, app: str, variant: str, log: Path, source: Path | None = None
    ) -> None:
        self.app, self.variant = app, variant
        self.source = source or Server.default_source
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        command = [PYTHON, str(BENCH / "gw_serve.py"), "--data", str(data),
                   "--port", str(self.port), "--app", app, "--variant", variant]  # fmt: skip
        self.proc = subprocess.Popen(
            command, cwd=ROOT, stdout=log.open("w"), stderr=subprocess.STDOUT,
            start_new_session=True, env=product_env(self.source),
        )  # fmt: skip
        Server.running.append(self)
        deadline = time.monotonic() + 120
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{app}/{variant} server exited; see {log}")
            with contextlib.suppress(OSError):
                imported = self.get("/bench/stats")["source"]
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{app}/{variant} server did not start in 120 s; see {log}")
            time.sleep(0.2)
        if self.source is not None and Path(imported) != self.source:
            self.stop()
            raise RuntimeError(f"{app}/{variant} imported the product from {imported}, not "
                               f"from the snapshot {self.source}")  # fmt: skip

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=30) as answer:  # noqa: S310
            return json.loads(answer.read())

    def post(self, path: str, body: bytes = b"{}", token: str | None = None) -> Any:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(self.url + path, body, headers, method="POST")  # noqa: S310
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
            return json.loads(answer.read())

    def cpu_seconds(self) -> float:
        """User + system CPU of the server process (all its threads) so far."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def pause(self) -> None:
        """SIGSTOP, once the server is quiet: an idle server still wakes up (uvicorn's tick,
        aiosqlite's threads polling their queues, the policy follower), 2-5% of a core;
        paused, it takes none. Requests still in flight when wrk stopped are let finish
        first: a gateway stopped inside an audit commit would hold the shared audit
        database's write lock, and the next gateway's commits would wait for it."""
        if self.proc.poll() is None:
            self.quiesce()
            self.proc.send_signal(signal.SIGSTOP)

    def quiesce(self, timeout: float = 30) -> None:
        """Wait until neither SQL statements nor audit records are being added (0.5 s)."""

        def activity() -> tuple[int, int]:
            stats = self.get("/bench/stats")
            return stats["total"], (stats.get("audit") or {}).get("written", 0)

        deadline = time.monotonic() + timeout
        seen = activity()
        while time.monotonic() < deadline:
            time.sleep(0.5)
            now = activity()
            if now == seen:
                return
            seen = now
        print(f"  note: {self.app}/{self.variant} still busy after {timeout:.0f} s", flush=True)

    def resume(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.resume()  # a stopped process would not act on SIGTERM
            self.proc.terminate()  # uvicorn shuts down on SIGTERM
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        if self in Server.running:
            Server.running.remove(self)

    @classmethod
    def stop_all(cls) -> None:
        for server in list(cls.running):
            server.stop()


# -- wrk ---------------------------------------------------------------------------------


def busy_seconds() -> float:
    """CPU seconds the whole machine has been busy (all cores; /proc/stat, not idle/iowait)."""
    values = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    # guest time is already counted in user/nice
    return (sum(values[:8]) - idle) / CLK_TCK


def loadavg() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def wait_quiet(args: Any) -> float:
    """Before a run: wait (2 s at a time, at most 60 s, and only while the run's shared
    `--quiet-budget` lasts) until the rest of the machine uses at most `--max-others` % of a
    core. Only one server is loaded at a time and it is idle now, so what is busy is others'.
    Returns the seconds waited."""
    waited = 0.0
    while args.quiet_budget > 0 and waited < 60:
        busy, started = busy_seconds(), time.perf_counter()
        time.sleep(2)
        spent = time.perf_counter() - started
        if 100 * (busy_seconds() - busy) / spent <= args.max_others:
            break
        waited += spent
        args.quiet_budget -= spent
    return waited


def wrk(server: Server, bodies: Path, token: str | None, seconds: int, args: Any) -> dict[str, Any]:
    command = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{seconds}s",
               "--timeout", "10s", "-s", str(BENCH / "gw_wrk.lua"), server.url, "--",
               str(bodies), token or ""]  # fmt: skip
    before_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_cpu = server.cpu_seconds()
    busy = busy_seconds()
    started = time.perf_counter()
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=seconds + 60, check=False
    )
    wall = time.perf_counter() - started
    busy = busy_seconds() - busy
    after_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_cpu = server.cpu_seconds() - server_cpu
    line = next((x for x in done.stdout.splitlines() if x.startswith("GWBENCH ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout}\n{done.stderr}")
    result: dict[str, Any] = json.loads(line.removeprefix("GWBENCH "))
    wrk_cpu = (after_children.ru_utime - before_children.ru_utime) + (
        after_children.ru_stime - before_children.ru_stime
    )
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    result["wrk_cpu_pct"] = 100 * wrk_cpu / wall
    result["server_cpu_pct"] = 100 * server_cpu / wall
    # Everything else the machine ran meanwhile (other work; this script's own polling is
    # negligible): what blurs the figures on a shared machine.
    result["other_cpu_pct"] = max(0.0, 100 * (busy - server_cpu - wrk_cpu) / wall)
    result["loadavg_after"] = loadavg()
    result["bytes_per_request"] = result["bytes"] / max(result["requests"], 1)
    bad = sum(result[k] for k in ("connect_errors", "read_errors", "write_errors", "timeouts",
                                  "non_2xx", "not_200", "graphql_errors"))  # fmt: skip
    result["failed"] = bad
    return result


def measure(server: Server, bodies: Path, token: str | None, args: Any) -> dict[str, Any]:
    """Warm up, then one measured wrk run with the server's SQL and GC counters around it."""
    if args.warmup > 0:
        wrk(server, bodies, token, args.warmup, args)
    server.post("/bench/reset")
    result = wrk(server, bodies, token, args.duration, args)
    stats = server.get("/bench/stats")
    freshness = freshness_statements(stats["texts"])
    result["statements"] = stats["total"] - freshness
    result["freshness_statements"] = freshness
    result["statements_per_request"] = result["statements"] / max(result["requests"], 1)
    if "audit" in stats:
        # The writer's counters run on until the stats are read: a few requests more than wrk
        # counted (those in flight when it stopped) may be in them.
        result["audit"] = stats["audit"]
        result["vouchers"] = stats["vouchers"]
    result["gc_seconds"] = sum(g["seconds"] for g in stats["gc"].values())
    result["gc_pct"] = 100 * result["gc_seconds"] / (result["duration_us"] / 1e6)
    result["gc"] = stats["gc"]
    return result


# -- checks ------------------------------------------------------------------------------


def _normal(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _is_freshness(text: str) -> bool:
    """The freshness monitor's MAX(updated_at) per source (gateway.trust.freshness, cached 60 s)."""
    return bool(re.search(r"max\([^)]*updated_at", text, re.IGNORECASE))


def freshness_statements(texts: dict[str, int]) -> int:
    """Statements of the freshness monitor among the counted texts: counted apart, since they
    run once per source per minute, not per request (and the floor has none)."""
    return sum(n for text, n in texts.items() if _is_freshness(text))


def check(server: Server, bodies: Path, token: str | None, n: int = 20) -> dict[str, Any]:
    """Send the first `n` bodies one at a time: no errors, data present; SQL per request."""
    lines = bodies.read_text("utf-8").splitlines()[:n]
    server.post("/bench/reset")
    empty = 0
    for line in lines:
        answer = server.post("/graphql", line.encode(), token)
        if "errors" in answer:
            raise RuntimeError(f"{bodies.name} on {server.app}/{server.variant}: {answer}")
        data = answer["data"]
        root = next(iter(data.values()))
        if not root or (isinstance(root, dict) and "edges" in root and not root["edges"]):
            empty += 1
    stats = server.get("/bench/stats")
    freshness = freshness_statements(stats["texts"])
    by_source = Counter(stats["statements"])
    for text, times in stats["texts"].items():
        if _is_freshness(text):  # one per source: take it off the source it ran on
            source = next((s for s in by_source if s in text), None)
            if source:
                by_source[source] -= times
    return {
        "requests": len(lines),
        "empty_answers": empty,
        "statements_per_request": (stats["total"] - freshness) / len(lines),
        "statements_by_source": {k: v / len(lines) for k, v in by_source.items() if v},
        "freshness_statements": freshness,
        "sql": sorted({_normal(t) for t in stats["texts"] if not _is_freshness(t)}),
    }


def check_variant(
    server: Server, data: Path, tokens: dict[str, str], bodies_dir: Path
) -> dict[str, Any]:
    """Prove the variant is what it says: the stubs answer what the product refuses."""
    db = sqlite3.connect(f"file:{data / 'persons.db'}?mode=ro", uri=True)
    some_id = db.execute("SELECT id_number FROM persons LIMIT 1").fetchone()[0]
    db.close()
    # religion is granted to no agency: only a stubbed authorization answers it.
    query = json.dumps({"query": f'{{ person(idNumber: "{some_id}") {{ religion }} }}'}).encode()
    answer = server.post("/graphql", query, tokens["GZ-PSB"])
    authorization_on = "errors" in answer
    try:
        server.post("/graphql", query, "not-a-token")
        tokens_checked = False
    except urllib.error.HTTPError as error:
        tokens_checked = error.code == 401
    # A documentary answer (a person's licences): is its audit record, and its voucher, on disk?
    audit_db = data / "audit.db"
    before = _audit_rows(audit_db)
    documentary = (bodies_dir / "s2-city.txt").read_text("utf-8").splitlines()[0]
    answer = server.post("/graphql", documentary.encode(), tokens["GZ-PSB"])
    after = _audit_rows(audit_db)
    voucher_attached = "voucher" in (answer.get("extensions") or {})
    audit_written = after[0] > before[0]
    voucher_stored = after[1] > before[1]
    variant = server.variant
    expected = {"product": (True, True, True, True), "gctuned": (True, True, True, True),
                "noauthz": (False, True, True, True), "noauth": (False, False, True, True),
                "noaudit": (True, True, False, False),
                "novouchers": (True, True, True, False),
                "baseline": (True, True, False, False)}[variant]  # fmt: skip
    found = (authorization_on, tokens_checked, audit_written, voucher_stored)
    if found != expected or voucher_attached == (variant == "baseline"):
        raise RuntimeError(
            f"variant {variant}: (authorization, token check, audit written, voucher stored) = "
            f"{found}, voucher attached {voucher_attached}; expected {expected} and a voucher "
            "(none in a baseline from before vouchers). "
            "The product changed: update gw_serve.py."
        )
    return {"authorization": authorization_on, "token_check": tokens_checked,
            "audit_written": audit_written, "voucher_stored": voucher_stored}  # fmt: skip


def _audit_rows(path: Path) -> tuple[int, int]:
    """(audit records, vouchers) in the audit database."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return (db.execute("SELECT count(*) FROM audit_log").fetchone()[0],
                db.execute("SELECT count(*) FROM vouchers").fetchone()[0])  # fmt: skip
    finally:
        db.close()


# -- profile -----------------------------------------------------------------------------

PROFILE_GROUPS = {
    # name: substrings of frames; a sample counts when any frame of its stack matches.
    "token verification (authentication)": ("Authenticator.authenticate",),
    "GraphQL parse": ("parse (graphql/language/parser.py",),
    "GraphQL validation": ("validate (graphql/validation/validate.py",),
    "  of which the agency rule and rules_for": (
        "gateway/graphql/rules/not_shared.py",
        "gateway/graphql/rules/__init__.py",
    ),
    "GraphQL execution and resolvers": (
        "execute (graphql/execution/execute.py",
        "Executor.",
        "strawberry/dataloader.py",
    ),
    "  of which SQLAlchemy + aiosqlite (event loop side)": ("sqlalchemy/", "aiosqlite/"),
    "grants: columns_for, scoped_select, grants_for, schema_for": (
        "columns_for (resolvers/fetch.py",
        "scoped_select (resolvers/fetch.py",
        "grants_for (policies/grants.py",
        "schema_for (gateway/graphql/schemas.py",
    ),
    "JSON response (JSONResponse.render)": ("JSONResponse.render",),
    "audit: trail, entry, writer, chain and store (event-loop side)": (
        "gateway/trust/trail.py",
        "gateway/trust/audit/",
    ),
    "freshness and voucher (GatewayEvidence.attach)": ("attach (gateway/trust/evidence.py",),
    "  of which signing the voucher (canonical JSON, SHA-256, Ed25519)": (
        "issue (gateway/trust/vouchers/voucher.py",
    ),
}


def profile(
    server: Server, bodies: Path, token: str, args: Any, out: Path
) -> dict[str, Any] | None:
    spy = BENCH / "out" / "tools" / "bin" / "py-spy"
    if not spy.exists():
        return None
    seconds = 10
    load = subprocess.Popen(
        ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{seconds + 4}s", "-s",
         str(BENCH / "gw_wrk.lua"), server.url, "--", str(bodies), token],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        time.sleep(2)
        done = subprocess.run(
            [str(spy), "record", "--pid", str(server.proc.pid), "--duration", str(seconds),
             "--rate", "200", "--format", "raw", "--nonblocking", "-o", str(out)],
            capture_output=True, text=True, timeout=seconds + 60, check=False,
        )  # fmt: skip
    finally:
        load.wait(timeout=seconds + 30)
    if done.returncode != 0 or not out.exists():
        print(f"  py-spy failed ({done.returncode}): {done.stderr.strip()[-300:]}")
        return None
    return summarize_profile(out)


def summarize_profile(path: Path) -> dict[str, Any]:
    loop_samples = 0
    thread_samples = 0
    groups: Counter[str] = Counter()
    own: Counter[str] = Counter()
    for line in path.read_text("utf-8", "replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        if not any("run_forever" in f for f in frames):
            thread_samples += n  # aiosqlite's worker threads (SQLite itself), mostly
            continue
        loop_samples += n
        own[frames[-1]] += n
        for name, needles in PROFILE_GROUPS.items():
            if any(needle in f for f in frames for needle in needles):
                groups[name] += n
    share = {k: round(100 * groups[k] / max(loop_samples, 1), 1) for k in PROFILE_GROUPS}
    return {
        "event_loop_samples": loop_samples,
        "other_thread_samples": thread_samples,
        "share_of_event_loop_pct": share,
        "top_own_frames_pct": [
            (frame, round(100 * n / max(loop_samples, 1), 1)) for frame, n in own.most_common(12)
        ],
    }


# -- machine and data --------------------------------------------------------------------


def machine() -> dict[str, Any]:
    meminfo = Path("/proc/meminfo").read_text()
    kib = int(re.search(r"MemTotal:\s+(\d+)", meminfo).group(1))  # type: ignore[union-attr]
    cpu = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    packages = ("strawberry-graphql", "graphql-core", "SQLAlchemy", "aiosqlite", "uvicorn",
                "starlette", "h11", "PyJWT")  # fmt: skip
    versions = {}
    for name in packages:
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[name] = metadata.version(name)
    return {
        "cores": os.cpu_count(),
        "cpu": cpu.group(1).strip() if cpu else platform.processor(),
        "memory_gib": round(kib / 1024 / 1024),
        "kernel": f"{platform.system()} {platform.release()} {platform.machine()}",
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "wrk": (wrk_version.stdout + wrk_version.stderr).split("[")[0].strip(),
        "packages": versions,
    }


def data_summary(data: Path) -> dict[str, Any]:
    tables = {"persons": "persons", "entities": "legal_entities", "land": "land_parcels",
              "licenses": "licenses"}  # fmt: skip
    counts = {}
    for source, table in tables.items():
        db = sqlite3.connect(f"file:{data / (source + '.db')}?mode=ro", uri=True)
        counts[source] = db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608
        db.close()
    size = sum(p.stat().st_size for p in data.glob("*.db"))
    return {"records": counts, "megabytes": round(size / 1e6)}


def product_env(source: Path | None = None) -> dict[str, str]:
    """The environment of a server or helper: the product imported from the snapshot."""
    env = dict(os.environ)
    source = source or Server.default_source
    if source is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(source),
                                                          env.get("PYTHONPATH")]))  # fmt: skip
    return env


def git_commit() -> str | None:
    """The commit, with "+ uncommitted changes" when product files differ from it."""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                              capture_output=True, text=True, check=True)  # fmt: skip
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                                cwd=ROOT, capture_output=True, text=True, check=True)  # fmt: skip
        dirty = [x for x in status.stdout.splitlines()
                 if x[3:].split("/", 1)[0] in SNAPSHOT_DIRS]  # fmt: skip
        return done.stdout.strip() + (" + uncommitted changes" if dirty else "")
    return None


def token(data: Path, agency: str) -> str:
    done = subprocess.run(
        [GOVGATE, "token", "--agency", agency, "--data", str(data), "--ttl", "14400"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return done.stdout.strip()


# -- the plan ----------------------------------------------------------------------------

# (label, server, bodies, agency): each point is measured `--repeat` times, round-robin within
# its server's session.
PLAN: dict[tuple[str, str], list[tuple[str, str, str, str | None]]] = {
    ("floor", "product"): [
        ("s1", "floor", "s1-city", None),
        ("s2", "floor", "s2-city", None),
        ("s3", "floor", "s3-city", None),
    ],
    ("gateway", "product"): [
        ("s1", "GZ-PSB", "s1-city", "GZ-PSB"),
        ("s2", "GZ-PSB", "s2-city", "GZ-PSB"),
        ("s3", "GZ-PSB", "s3-city", "GZ-PSB"),
        ("s1", "GZ-PSB, Tianhe IDs", "s1-tianhe", "GZ-PSB"),
        ("s1", "TH-CA, Tianhe IDs", "s1-tianhe", "TH-CA"),
        ("s3", "GZ-PSB, Tianhe page", "s3-tianhe", "GZ-PSB"),
        ("s3", "TH-CA, Tianhe page", "s3-tianhe", "TH-CA"),
    ],
    ("gateway", "noauthz"): [
        ("s1", "GZ-PSB, authorization stubbed", "s1-city", "GZ-PSB"),
        ("s2", "GZ-PSB, authorization stubbed", "s2-city", "GZ-PSB"),
        ("s3", "GZ-PSB, authorization stubbed", "s3-city", "GZ-PSB"),
    ],
    ("gateway", "noauth"): [
        ("s1", "GZ-PSB, token check and authorization stubbed", "s1-city", "GZ-PSB"),
        ("s2", "GZ-PSB, token check and authorization stubbed", "s2-city", "GZ-PSB"),
        ("s3", "GZ-PSB, token check and authorization stubbed", "s3-city", "GZ-PSB"),
    ],
    ("gateway", "gctuned"): [
        ("s1", "GZ-PSB, experiment: gc.freeze() after start-up", "s1-city", "GZ-PSB"),
        ("s2", "GZ-PSB, experiment: gc.freeze() after start-up", "s2-city", "GZ-PSB"),
        ("s3", "GZ-PSB, experiment: gc.freeze() after start-up", "s3-city", "GZ-PSB"),
    ],
    # What the audit costs: the same gateway, its audit store's append a no-op (gw_serve.py).
    ("gateway", "noaudit"): [
        ("s1", "GZ-PSB, audit append a no-op", "s1-city", "GZ-PSB"),
        ("s2", "GZ-PSB, audit append a no-op", "s2-city", "GZ-PSB"),
        ("s3", "GZ-PSB, audit append a no-op", "s3-city", "GZ-PSB"),
    ],
    # And with the voucher rows left out of the audit's commits (vouchers still signed). s1
    # returns no documentary data (no voucher), so it would be the product point again.
    ("gateway", "novouchers"): [
        ("s2", "GZ-PSB, vouchers signed but not stored", "s2-city", "GZ-PSB"),
        ("s3", "GZ-PSB, vouchers signed but not stored", "s3-city", "GZ-PSB"),
    ],
}


def run(args: argparse.Namespace) -> dict[str, Any]:
    data: Path = args.data.resolve()
    out: Path = args.out.resolve()
    bodies_dir = out / "gw-bodies"
    counts = write_bodies(data, bodies_dir)
    tokens = {agency: token(data, agency) for agency in ("GZ-PSB", "TH-CA")}
    # Every run starts from an empty audit store (and voucher tables): the log of earlier runs
    # would otherwise grow from run to run. The gateway creates it afresh at start-up.
    for stale in (data / "audit.db", data / "audit.db-wal", data / "audit.db-shm"):
        stale.unlink(missing_ok=True)
    commit = git_commit()  # of the snapshot, taken next
    Server.default_source = snapshot(out)
    results: dict[str, Any] = {
        "generated": datetime.now(UTC).strftime("%Y-%m-%dT%H:%MZ"),
        "command": args.command,
        "commit": commit,
        "machine": machine(),
        "data": {**data_summary(data),
                 "dir": str(data.relative_to(ROOT) if data.is_relative_to(ROOT) else data)},
        "load": {"tool": "wrk", "threads": args.threads, "connections": args.connections,
                 "duration_s": args.duration, "warmup_s": args.warmup, "repeat": args.repeat,
                 "max_others_pct": args.max_others, "retries": args.retries,
                 "quiet_budget_s": args.quiet_budget,
                 "server": "uvicorn, 1 worker, asyncio loop, h11, log level warning"},
        "bodies": counts,
        "points": [],
        "checks": {},
        "profiles": {},
        "loadavg_before": loadavg(),
    }  # fmt: skip
    # Every server is started first and stays up (idle ones cost nothing measurable), and the
    # runs go scenario by scenario across the servers: the floor, the gateway and its variants
    # are measured minutes apart, not a quarter of an hour, so the machine's drift (on this
    # shared 2-core VM the floor's own throughput moved by a fifth within the hour) does not
    # land in their ratios.
    full_plan = dict(PLAN)
    if args.baseline:
        label = f"GZ-PSB at {args.baseline} (baseline)"
        full_plan["gateway", "baseline"] = [(s, label, f"{s}-city", "GZ-PSB") for s in SCENARIOS]
        results["baseline"] = args.baseline
    plan = {key: [p for p in points if not args.only or p[2] in args.only]
            for key, points in full_plan.items()}  # fmt: skip
    plan = {key: points for key, points in plan.items() if points}
    servers: dict[tuple[str, str], Server] = {}
    try:
        for (app, variant), points in plan.items():
            print(f"== starting {app} ({variant})", flush=True)
            source = baseline_source(out, args.baseline) if variant == "baseline" else None
            server = Server(data, app, variant, out / f"gw-{app}-{variant}.log", source)
            servers[app, variant] = server
            if app == "gateway":
                results["checks"][f"{app}/{variant}/variant"] = check_variant(
                    server, data, tokens, bodies_dir
                )
            for _scenario, _label, bodies, agency in points:
                key = f"{app}/{variant}/{bodies}/{agency or '-'}"
                checked = check(server, bodies_dir / f"{bodies}.txt", tokens.get(agency or ""))
                results["checks"][key] = checked
            server.pause()  # only the server being measured runs
        runs: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
        discarded: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
        for rep in range(args.repeat):
            for s in SCENARIOS:
                for (app, variant), points in plan.items():
                    server = servers[app, variant]
                    if not any(p[0] == s for p in points):
                        continue
                    server.resume()
                    time.sleep(1)  # its timers catch up before the warm-up
                    for i, (scenario, label, bodies, agency) in enumerate(points):
                        if scenario != s:
                            continue
                        key3 = (app, variant, i)
                        for attempt in range(1 + args.retries):
                            waited = wait_quiet(args)
                            result = measure(server, bodies_dir / f"{bodies}.txt",
                                             tokens.get(agency or ""), args)  # fmt: skip
                            result["waited_for_quiet_s"] = round(waited)
                            if (
                                result["other_cpu_pct"] <= args.max_others
                                or attempt == args.retries
                                or args.quiet_budget <= 0
                            ):
                                break
                            # Other work took a share of the two cores: measure it again.
                            print(f"  [{rep + 1}/{args.repeat}] {scenario} {label:48} "
                                  f"{result['rps']:8.1f} req/s  discarded: others used "
                                  f"{result['other_cpu_pct']:.0f}% of a core; again when "
                                  "quiet", flush=True)  # fmt: skip
                            discarded.setdefault(key3, []).append(result)
                        runs.setdefault(key3, []).append(result)
                        name = "floor" if app == "floor" else label
                        print(f"  [{rep + 1}/{args.repeat}] {scenario} {name:48} "
                              f"{result['rps']:8.1f} req/s  p50 {result['p50_us'] / 1000:6.1f} "
                              f"ms  p99 {result['p99_us'] / 1000:6.1f} ms  SQL/req "
                              f"{result['statements_per_request']:.2f}  wrk CPU "
                              f"{result['wrk_cpu_pct']:.0f}%  server CPU "
                              f"{result['server_cpu_pct']:.0f}%  GC {result['gc_pct']:.0f}%  "
                              f"others {result['other_cpu_pct']:.0f}%  "
                              f"failed {result['failed']}{_evidence_note(result)}",
                              flush=True)  # fmt: skip
                    server.pause()
        for (app, variant), points in plan.items():
            for i, (scenario, label, bodies, agency) in enumerate(points):
                checked = results["checks"][f"{app}/{variant}/{bodies}/{agency or '-'}"]
                results["points"].append({
                    "sql_per_request": checked["statements_per_request"],
                    "scenario": scenario, "label": label, "app": app, "variant": variant,
                    "bodies": bodies, "agency": agency,
                    "check": f"{app}/{variant}/{bodies}/{agency or '-'}",
                    "runs": runs[app, variant, i], **combine(runs[app, variant, i]),
                    "discarded_runs": discarded.get((app, variant, i), []),
                })  # fmt: skip
        product = servers.get(("gateway", "product"))
        if product is not None and args.profile and not args.only:
            for other in servers.values():  # the profile's server alone
                if other is not product:
                    other.stop()
            product.resume()
            for bodies in ("s1-city", "s3-city"):
                summary = profile(product, bodies_dir / f"{bodies}.txt", tokens["GZ-PSB"],
                                  args, out / f"gw-profile-{bodies}.txt")  # fmt: skip
                if summary is not None:
                    results["profiles"][bodies] = summary
    finally:
        for server in servers.values():
            server.stop()
    results["loadavg_after"] = loadavg()
    audit_db = data / "audit.db"
    if audit_db.exists():
        results["audit_db"] = {"megabytes": round(audit_db.stat().st_size / 1e6),
                               "records": _audit_rows(audit_db)[0]}  # fmt: skip
    if not args.only:
        stages(results, data, bodies_dir)
    results["sql_same_as_floor"] = {
        s: results["checks"][f"gateway/product/{s}-city/GZ-PSB"]["sql"]
        == results["checks"][f"floor/product/{s}-city/-"]["sql"]
        for s in SCENARIOS
        if f"gateway/product/{s}-city/GZ-PSB" in results["checks"]
        and f"floor/product/{s}-city/-" in results["checks"]
    }
    results["summary"] = summarize(results)
    return results


def _evidence_note(result: dict[str, Any]) -> str:
    audit = result.get("audit")
    if not audit or not audit["batches"]:
        return ""
    append = audit["append"]
    note = (
        f"  audit {audit['written'] / audit['batches']:.1f} rec/commit, append "
        f"{1e3 * append['seconds'] / max(append['calls'], 1):.1f} ms"
    )
    sign = result["vouchers"]["sign"]
    if sign["calls"]:
        note += (
            f"  voucher sign {1e6 * sign['seconds'] / sign['calls']:.0f} µs, "
            f"{audit['voucher_rows'] / audit['batches']:.1f} voucher rows/commit"
        )
    return note


def stages(results: dict[str, Any], data: Path, bodies_dir: Path) -> None:
    print("== stages (in-process, one request at a time)", flush=True)
    done = subprocess.run(
        [PYTHON, str(BENCH / "gw_stages.py"), "--data", str(data), "--bodies", str(bodies_dir)],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False, env=product_env(),
    )  # fmt: skip
    if done.returncode == 0:
        results["stages_us"] = json.loads(done.stdout.strip().splitlines()[-1])
    else:
        print(f"  gw_stages.py failed: {done.stderr.strip()[-500:]}")


def combine(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The median run by throughput stands for the point; all runs stay in `runs`."""
    ordered = sorted(runs, key=lambda r: r["rps"])
    mid = ordered[(len(ordered) - 1) // 2] if len(ordered) % 2 else None
    rps = statistics.median(r["rps"] for r in runs)
    pick = mid or ordered[len(ordered) // 2 - 1]
    return {
        "rps": rps,
        "rps_runs": [round(r["rps"], 1) for r in runs],
        "p50_ms": statistics.median(r["p50_us"] for r in runs) / 1000,
        "p99_ms": statistics.median(r["p99_us"] for r in runs) / 1000,
        "statements_per_request": statistics.median(r["statements_per_request"] for r in runs),
        "wrk_cpu_pct": max(r["wrk_cpu_pct"] for r in runs),
        "server_cpu_pct": statistics.median(r["server_cpu_pct"] for r in runs),
        "gc_pct": statistics.median(r["gc_pct"] for r in runs),
        "bytes_per_request": pick["bytes_per_request"],
        "failed": sum(r["failed"] for r in runs),
        "other_cpu_pct": statistics.median(r.get("other_cpu_pct", 0.0) for r in runs),
        "other_cpu_pct_max": max(r.get("other_cpu_pct", 0.0) for r in runs),
        **evidence(runs),
    }


def evidence(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The audit writer's batches and the vouchers' costs, over all runs of a point."""
    if not all("audit" in r for r in runs):
        return {}
    written = sum(r["audit"]["written"] for r in runs)
    batches = sum(r["audit"]["batches"] for r in runs)
    requests = sum(r["requests"] for r in runs)

    def mean(kind: str, name: str, scale: float) -> float | None:
        calls = sum(r[kind][name]["calls"] for r in runs)
        seconds = sum(r[kind][name]["seconds"] for r in runs)
        return scale * seconds / calls if calls else None

    return {
        "audit_records": written,
        "audit_batches": batches,
        "records_per_batch": written / batches if batches else None,
        "audit_append_ms": mean("audit", "append", 1e3),
        "audit_append_max_ms": 1e3 * max(r["audit"]["append"]["max_seconds"] for r in runs),
        "vouchers_per_request": sum(r["vouchers"]["sign"]["calls"] for r in runs) / requests
        if requests
        else None,
        "voucher_sign_us": mean("vouchers", "sign", 1e6),
        "voucher_rows_per_batch": sum(r["audit"]["voucher_rows"] for r in runs) / batches
        if batches
        else None,
    }


def _point(results: dict[str, Any], variant: str, bodies: str, agency: str | None,
           app: str = "gateway") -> dict[str, Any] | None:  # fmt: skip
    for p in results["points"]:
        if (p["app"], p["variant"], p["bodies"], p["agency"]) == (app, variant, bodies, agency):
            found: dict[str, Any] = p
            return found
    return None


def summarize(results: dict[str, Any]) -> dict[str, Any]:
    summary = {}
    for s in SCENARIOS:
        floor = _point(results, "product", f"{s}-city", None, app="floor")
        gw = _point(results, "product", f"{s}-city", "GZ-PSB")
        noauthz = _point(results, "noauthz", f"{s}-city", "GZ-PSB")
        noauth = _point(results, "noauth", f"{s}-city", "GZ-PSB")
        noaudit = _point(results, "noaudit", f"{s}-city", "GZ-PSB")
        novouchers = _point(results, "novouchers", f"{s}-city", "GZ-PSB")
        baseline = _point(results, "baseline", f"{s}-city", "GZ-PSB")
        psb_th = _point(results, "product", f"{s}-tianhe", "GZ-PSB")
        thca = _point(results, "product", f"{s}-tianhe", "TH-CA")
        entry: dict[str, Any] = {}
        if floor and gw:
            entry["floor_over_gateway"] = floor["rps"] / gw["rps"]
        if gw and noauthz:
            entry["authorization_cost_pct"] = 100 * (1 - gw["rps"] / noauthz["rps"])
        if gw and noauth:
            entry["access_control_cost_pct"] = 100 * (1 - gw["rps"] / noauth["rps"])
        if psb_th and thca:
            entry["thca_over_psb"] = thca["rps"] / psb_th["rps"]
        if gw and noaudit:
            entry["audit_cost_pct"] = 100 * (1 - gw["rps"] / noaudit["rps"])
            if floor:
                entry["floor_over_noaudit"] = floor["rps"] / noaudit["rps"]
        if gw and novouchers:
            entry["voucher_store_cost_pct"] = 100 * (1 - gw["rps"] / novouchers["rps"])
        if floor and baseline:
            entry["floor_over_baseline"] = floor["rps"] / baseline["rps"]
        stage = results.get("stages_us", {}).get(f"{s}-city")
        if stage and gw:
            # The server's CPU per request under load, and the part authorization adds to it:
            # the agency validation rule (over the standard rules) and the grant look-ups.
            per_request_us = gw["server_cpu_pct"] / 100 / gw["rps"] * 1e6
            authz_us = (stage["validate (agency rules)"] - stage["validate (standard rules)"]
                        + stage["grants + schema"])  # fmt: skip
            entry["cpu_per_request_us"] = per_request_us
            entry["authorization_us"] = authz_us
            entry["authorization_cpu_pct"] = 100 * authz_us / per_request_us
            entry["token_cpu_pct"] = 100 * stage["token"] / per_request_us
        summary[s] = entry
    return summary


# -- report ------------------------------------------------------------------------------


def _ms(value: float) -> str:
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"


def markdown(results: dict[str, Any]) -> str:
    m, d, load = results["machine"], results["data"], results["load"]
    rec = d["records"]
    pk = m["packages"]
    lines = [
        BEGIN,
        "",
        f"Measured {results['generated']} (commit {results['commit'] or 'unknown'}) with "
        f"`{results['command']}`.",
        "",
        f"- Machine: {m['cores']} cores ({m['cpu']}), {m['memory_gib']} GiB, {m['kernel']}, "
        f"Python {m['python']}, SQLite {m['sqlite']}; {m['wrk']}.",
        f"- Stack: strawberry-graphql {pk.get('strawberry-graphql')}, graphql-core "
        f"{pk.get('graphql-core')}, SQLAlchemy {pk.get('SQLAlchemy')}, aiosqlite "
        f"{pk.get('aiosqlite')}, uvicorn {pk.get('uvicorn')} ({load['server']}), starlette "
        f"{pk.get('starlette')}.",
        f"- Data: {rec['persons']:,} persons, {rec['entities']:,} entities, {rec['land']:,} "
        f"parcels, {rec['licenses']:,} licences ({d['megabytes']} MB of SQLite in "
        f"`{d['dir']}/`).",
        f"- Load: wrk, {load['threads']} thread, {load['connections']} connections, "
        f"{load['warmup_s']} s warm-up then {load['duration_s']} s measured, each point "
        f"{load['repeat']}x round-robin (the median run is shown). Bodies rotate over "
        f"{results['bodies']['s1-city']:,} sampled IDs (s1), {results['bodies']['s2-city']:,} "
        f"persons with all three links (s2), {results['bodies']['s3-city']:,} page starts (s3).",
        "",
    ]
    for s, title in SCENARIOS.items():
        lines += [f"**{s}: {title}**", "",
                  "| server, agency | req/s | p50 ms | p99 ms | SQL/req | KB/resp | "
                  "server CPU | GC | wrk CPU | others' CPU | floor ÷ this |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
        floor = _point(results, "product", f"{s}-city", None, app="floor")
        for p in results["points"]:
            if p["scenario"] != s:
                continue
            ratio = f"{floor['rps'] / p['rps']:.2f}" if floor else "n/a"
            name = "floor (same SQL, no GraphQL)" if p["app"] == "floor" else p["label"]
            runs = "/".join(f"{r:.0f}" for r in p["rps_runs"])
            fail = f" ({p['failed']} failed)" if p["failed"] else ""
            lines.append(
                f"| {name} | **{p['rps']:,.0f}** ({runs}){fail} | {_ms(p['p50_ms'])} | "
                f"{_ms(p['p99_ms'])} | {p['sql_per_request']:.2f} | "
                f"{p['bytes_per_request'] / 1024:.1f} | {p['server_cpu_pct']:.0f}% | "
                f"{p['gc_pct']:.0f}% | {p['wrk_cpu_pct']:.0f}% | "
                f"{p.get('other_cpu_pct', 0):.0f}% | {ratio} |"
            )
        lines.append("")
    base = results.get("baseline")
    lines += ["**Ratios** (throughput)", "",
              "| scenario | floor ÷ gateway (aim ≤ 3) | "
              + (f"floor ÷ gateway at {base} |" if base else "")
              + " authorization cost: 1 − gateway ÷ "
              "authz stubbed (aim < 10%) | token check + authorization: 1 − gateway ÷ both "
              "stubbed | TH-CA ÷ GZ-PSB, same Tianhe rows |",
              "|---|---:|" + ("---:|" if base else "") + "---:|---:|---:|"]  # fmt: skip
    for s, entry in results["summary"].items():

        def fmt(key: str, pct: bool = False, e: dict[str, Any] = entry) -> str:
            if key not in e:
                return "n/a"
            return f"{e[key]:.1f}%" if pct else f"{e[key]:.2f}"

        thca = (
            fmt("thca_over_psb")
            if "thca_over_psb" in entry
            else ("n/a (TH-CA may not follow land rights or represented entities)")
        )
        lines.append(
            f"| {s} | {fmt('floor_over_gateway')} | "
            + (f"{fmt('floor_over_baseline')} | " if base else "")
            + f"{fmt('authorization_cost_pct', True)} | "
            f"{fmt('access_control_cost_pct', True)} | {thca} |"
        )
    lines += audit_tables(results)
    stages = results.get("stages_us")
    if stages:
        names = list(next(iter(stages.values())))
        lines += ["", "**Event-loop CPU per request by stage**, µs (bench/gw_stages.py: "
                  "in-process, one request at a time, collector paused), against the server's "
                  "CPU per request under load (server CPU ÷ req/s, GZ-PSB):", "",
                  "| stage | " + " | ".join(SCENARIOS) + " |",
                  "|---|" + "---:|" * len(SCENARIOS)]  # fmt: skip
        for stage in names:
            row = [f"{stages.get(f'{s}-city', {}).get(stage, float('nan')):,.0f}"
                   for s in SCENARIOS]  # fmt: skip
            lines.append(f"| {stage} | " + " | ".join(row) + " |")
        summ = results["summary"]
        lines.append("| **server CPU per request under load** | " + " | ".join(
            f"**{summ[s].get('cpu_per_request_us', float('nan')):,.0f}**" for s in SCENARIOS
        ) + " |")  # fmt: skip
        lines.append("| authorization (agency rule over standard rules + grants), % of that | "
                     + " | ".join(f"{summ[s].get('authorization_cpu_pct', float('nan')):.1f}%"
                                  for s in SCENARIOS) + " |")  # fmt: skip
        lines.append(
            "| token check, % of that | "
            + " | ".join(f"{summ[s].get('token_cpu_pct', float('nan')):.1f}%" for s in SCENARIOS)
            + " |"
        )
    same = results.get("sql_same_as_floor", {})
    failed = sum(p["failed"] for p in results["points"])
    lines += [
        "",
        "SQL/req: statements per request, counted by a `before_cursor_execute` listener on "
        "every source engine over 20 requests sent one at a time before the runs (the count "
        "during the runs agrees, give or take the requests in flight when wrk stops; both are "
        "in gateway.json). The statement texts of the gateway and the floor are identical for "
        + ", ".join(f"{s} {'yes' if ok else 'NO'}" for s, ok in same.items())
        + " (the freshness monitor's `MAX(updated_at)`, one per source and minute, is counted "
        "apart: it is not per request). GC: the share of the run the server spent in Python's "
        "garbage collector (gc callbacks). Others' CPU: what the rest of the machine used "
        "during the run (/proc/stat busy time less the server's and wrk's), in % of one core; "
        f"load average {results.get('loadavg_before', float('nan')):.2f} before the runs, "
        f"{results.get('loadavg_after', float('nan')):.2f} after. "
        + ("No request failed, returned a status other than 200 or carried a GraphQL error."
           if not failed else
           f"{failed} requests FAILED (see bench/out/gateway.json).")
        + contention_note(results),
    ]  # fmt: skip
    for bodies, prof in results.get("profiles", {}).items():
        lines += ["", f"Profile of the gateway under the {bodies[:2]} load (py-spy, 200 Hz, "
                  f"{prof['event_loop_samples']:,} event-loop samples; a sample counts in every "
                  "group one of its frames belongs to; py-spy does not see the garbage "
                  "collector, whose pauses count in the frame that allocated when it ran):",
                  "",
                  "| share of the event loop's samples in | % |", "|---|---:|"]  # fmt: skip
        for name, pct in prof["share_of_event_loop_pct"].items():
            lines.append(f"| {name} | {pct} |")
    lines += ["", END]
    return "\n".join(lines)


def contention_note(results: dict[str, Any]) -> str:
    """Runs measured again because other work used the machine, and runs kept nonetheless."""
    limit = results["load"].get("max_others_pct")
    if limit is None:
        return ""
    dropped = sum(len(p.get("discarded_runs", [])) for p in results["points"])
    kept = [(p, r) for p in results["points"] for r in p["runs"]
            if r.get("other_cpu_pct", 0) > limit]  # fmt: skip
    waited = sum(r.get("waited_for_quiet_s", 0) for p in results["points"]
                 for r in [*p["runs"], *p.get("discarded_runs", [])])  # fmt: skip
    note = (f" Each run waited (up to 60 s, {results['load']['quiet_budget_s']:.0f} s in all) "
            f"for other processes to use at most {limit:.0f}% of a core ({waited:.0f} s "
            f"waited), and a run during which they used more was discarded and measured "
            f"again (at most {results['load']['retries']} times while the waiting budget "
            f"lasted): {dropped} run{'s' if dropped != 1 else ''} discarded.")  # fmt: skip
    if kept:
        names = sorted({f"{p['scenario']} {p['label']}" for p, _ in kept})
        note += (f" {len(kept)} run(s) kept although contended (retries used up): "
                 + "; ".join(names) + ".")  # fmt: skip
    return note


def audit_tables(results: dict[str, Any]) -> list[str]:
    """The audit's and the vouchers' cost: the gateway against its no-op-append variants."""
    rows = []
    for s in SCENARIOS:
        floor = _point(results, "product", f"{s}-city", None, app="floor")
        gw = _point(results, "product", f"{s}-city", "GZ-PSB")
        noaudit = _point(results, "noaudit", f"{s}-city", "GZ-PSB")
        novouchers = _point(results, "novouchers", f"{s}-city", "GZ-PSB")
        if gw and noaudit:
            rows.append((s, floor, gw, noaudit, novouchers))
    if not rows:
        return []

    def opt(value: float | None, spec: str) -> str:
        return "n/a" if value is None else format(value, spec)

    def ratio(floor: dict[str, Any] | None, point: dict[str, Any] | None) -> str:
        return f"{floor['rps'] / point['rps']:.2f}" if floor and point else "n/a"

    def rps(point: dict[str, Any] | None) -> str:
        return f"{point['rps']:,.0f} ({_ms(point['p99_ms'])})" if point else "n/a"

    lines = ["", "**Audit and vouchers**: the gateway (GZ-PSB, city-wide) against the same "
             "gateway with the audit store's append a no-op (nothing hashed, inserted or "
             "committed; vouchers are stored in that transaction, so not stored either), and "
             "with only the voucher rows left out of the audit's commits. req/s (p99 ms):", "",
             "| scenario | gateway | audit append a no-op | audit cost: 1 − gateway ÷ no-op "
             "| vouchers signed, not stored | floor ÷ gateway | floor ÷ no-audit gateway |",
             "|---|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for s, floor, gw, noaudit, novouchers in rows:
        cost = 100 * (1 - gw["rps"] / noaudit["rps"])
        nv = rps(novouchers) if novouchers else "n/a (no voucher)"
        lines.append(
            f"| {s} | {rps(gw)} | {rps(noaudit)} | {cost:.0f}% | {nv} | {ratio(floor, gw)} | "
            f"{ratio(floor, noaudit)} |"
        )
    lines += ["", "| scenario (gateway, real audit) | records per commit | commits per second "
              "| commit (append) ms, mean / max | voucher rows per commit | voucher signing µs "
              "|", "|---|---:|---:|---:|---:|---:|"]  # fmt: skip
    for s, _floor, gw, _noaudit, _novouchers in rows:
        signs = gw.get("vouchers_per_request") or 0
        per_second = (gw["rps"] / gw["records_per_batch"]) if gw.get("records_per_batch") else None
        lines.append(
            f"| {s} | {opt(gw.get('records_per_batch'), '.1f')} | {opt(per_second, '.0f')} | "
            f"{opt(gw.get('audit_append_ms'), '.1f')} / {opt(gw.get('audit_append_max_ms'), '.0f')}"
            f" | {opt(gw.get('voucher_rows_per_batch'), '.1f')} | "
            f"{opt(gw.get('voucher_sign_us') if signs else None, ',.0f')} |"
        )
    db = results.get("audit_db")
    lines += ["", "Records per commit: the audit writer's `written` ÷ `batches` over the "
              "measured runs; commit: the wall time of one `AuditStore.append` (hash chain, "
              "insert of the records and the batch's voucher rows, signed head, commit with "
              "synchronous=FULL; its SQL runs in aiosqlite's thread, the rest on the event "
              "loop, which it waits for between statements); voucher signing: `issue` "
              "(canonical JSON of the data, SHA-256, Ed25519), on the event loop."
              + (f" The audit database held {db['records']:,} records ({db['megabytes']} MB) "
                 "at the end of the runs (it starts empty)." if db else "")]  # fmt: skip
    return lines


def write_doc(doc: Path, block: str) -> None:
    text = doc.read_text("utf-8")
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        text = head + block + tail
    else:
        intro = (
            f"\n{SECTION}\n\n"
            "```sh\nbench/gateway.sh            # 100,000 persons (default)\n"
            "bench/gateway.sh 1000000    # 1,000,000 persons\n```\n\n"
        )
        text = text.rstrip("\n") + "\n" + intro + block + "\n"
    doc.write_text(text, "utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=BENCH / "out")
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-profile", dest="profile", action="store_false")
    parser.add_argument(
        "--max-others",
        type=float,
        default=25.0,
        help="A run during which other processes used more than this %% of one core is "
        "discarded and measured again (at most --retries times); default 25.",
    )
    parser.add_argument("--retries", type=int, default=2)
    parser.add_argument(
        "--baseline",
        metavar="COMMIT",
        help="Also serve the gateway at this commit (its source from git archive) and measure "
        "it beside the current one, on the same machine in the same minutes.",
    )
    parser.add_argument(
        "--quiet-budget",
        type=float,
        default=900.0,
        help="Seconds the whole run may spend waiting for the machine to be quiet before "
        "runs (at most 60 s per run); once spent, runs are measured as they come and "
        "contended ones are kept (and flagged). Default 900.",
    )
    parser.add_argument(
        "--only",
        type=lambda text: set(text.split(",")),
        default=set(),
        help="Only the points with these body sets (e.g. s3-tianhe,s1-city); no profile, "
        "no stages, and the Markdown is not written (a focused check).",
    )
    parser.add_argument(
        "--doc",
        type=Path,
        default=ROOT / "docs" / "benchmarks.md",
        help="Markdown file whose generated block is rewritten; '-' for none.",
    )
    parser.add_argument(
        "--command", default="bench/gateway.sh", help="How the run was started, for the report."
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed; run bench/gateway.sh (apt-get install wrk).")

    def stop(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        results = run(args)
    finally:
        Server.stop_all()
    if args.only:
        name = "gateway-only-" + "-".join(sorted(args.only)) + ".json"
        out = args.out.resolve() / name
        out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", "utf-8")
        print(f"\nwrote {out}")
        return
    out = args.out.resolve() / "gateway.json"
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", "utf-8")
    block = markdown(results)
    (args.out.resolve() / "gateway.md").write_text(block + "\n", "utf-8")
    if str(args.doc) != "-":
        write_doc(args.doc, block)
    print(f"\nwrote {out}" + ("" if str(args.doc) == "-" else f" and {args.doc}"))
    for s, entry in results["summary"].items():
        print(f"  {s}: " + ", ".join(f"{k} {v:.2f}" for k, v in entry.items()))


if __name__ == "__main__":
    main()
