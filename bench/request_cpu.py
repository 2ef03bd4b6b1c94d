"""CPU of one whole request, in-process, through the real ASGI app: the request path's own cost.

    .venv/bin/python bench/request_cpu.py [--data DIR] [--requests 2000] [--profile N]

Builds the demo deployment's app (`Settings.demo`: SQLite sources, the development key, the
audit store with its hash chain and signed head, vouchers on) on a folder seeded with 2,000
persons (made under --data when missing), runs its lifespan, and sends scenario s1 (one person
by ID, 8 fields: bench/gw_scenarios.py `PersonById`, as GZ-PSB, keys sampled from the data) to
the ASGI callable itself, one request at a time: no socket and no HTTP client, so what is
measured is the gateway's whole request path (middleware, token, body, policy, plan, voucher
and freshness, the audit record committed before release, the response written).

With --concurrency C, C requests are sent at once (as a loaded server has them: the audit
writer then commits them in groups) and each figure is the group's divided by C. Reports,
over --requests requests after 200 of warm-up, the median and mean microseconds of
the process's CPU per request (`time.process_time`: the event loop and the threads SQLite
and the audit store use), and the wall clock. Every answer is checked (status 200, a person
with the ID asked). With --profile N, prints cProfile's N costliest functions (own time)
instead. The collector runs as it does when serving.

With --over-http PARSER/LOOP (e.g. httptools/uvloop, h11/asyncio), the app is served instead
by uvicorn with govgate's protocol (gateway.http.slow_clients.ServerConfig) in a thread of this
process, and the requests go over one keep-alive connection on 127.0.0.1 from the main thread;
the figure is then the CPU of the server's thread alone per request (its event loop: HTTP
parsing, the app, the audit writer; not the client, and not SQLite's worker threads). On a
checkout where `[server]` has no `http`/`loop` settings, h11/asyncio is what it serves.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import dataclasses
import io
import json
import platform
import pstats
import random
import socket
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvloop

from gateway.http.app import create_app
from gateway.http.slow_clients import ServerConfig
from gateway.identity.dev_keys import dev_signing_key, issue_token
from gateway.settings import ServerOptions, Settings
from sources.engines import default_urls
from sources.synthetic.seed import SeedPlan, seed

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gw_scenarios import body

WARMUP = 200


def _seeded(data: Path) -> None:
    if (data / "persons.db").exists():
        return
    data.mkdir(parents=True, exist_ok=True)
    plan = dataclasses.replace(
        SeedPlan.proportional(2_000, seed=11), as_of=datetime.now(UTC).replace(microsecond=0)
    )
    seed(plan, default_urls(data), workers=1)


def _bodies(data: Path, n: int) -> list[bytes]:
    db = sqlite3.connect(f"file:{data / 'persons.db'}?mode=ro", uri=True)
    ids = [r[0] for r in db.execute("SELECT id_number FROM persons ORDER BY id_number")]
    db.close()
    rng = random.Random(20261126)
    return [body("PersonById", {"id": rng.choice(ids)}).encode() for _ in range(n)]


async def _one(app: Any, headers: list[tuple[bytes, bytes]], payload: bytes) -> tuple[int, bytes]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "root_path": "",
        "query_string": b"",
        "headers": [*headers, (b"content-length", str(len(payload)).encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    sent = False
    status = 0
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": payload, "more_body": False}
        await asyncio.Event().wait()  # the client stays connected
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


async def run(
    data: Path, n: int, *, profile: int, sort: str, audit_url: str | None, concurrency: int
) -> dict[str, Any]:
    settings = Settings.demo(data)
    if audit_url:
        settings = dataclasses.replace(settings, audit_url=audit_url)
    app = create_app(settings)
    token = issue_token(dev_signing_key(data), agency="GZ-PSB", ttl_seconds=3600)
    headers = [
        (b"host", b"127.0.0.1:8000"),
        (b"content-type", b"application/json"),
        (b"authorization", f"Bearer {token}".encode()),
    ]
    bodies = _bodies(data, WARMUP + n)
    lifespan = app.router.lifespan_context(app)
    await lifespan.__aenter__()
    try:
        cpu: list[float] = []
        loop: list[float] = []
        wall: list[float] = []
        profiler = cProfile.Profile(time.thread_time) if profile else None  # CPU, not wall
        for start in range(0, len(bodies), concurrency):
            group = bodies[start : start + concurrency]
            c0, t0, w0 = time.process_time(), time.thread_time(), time.perf_counter()
            if profiler is not None and start >= WARMUP:
                profiler.enable()
            answers = await asyncio.gather(*(_one(app, headers, p) for p in group))
            if profiler is not None:
                profiler.disable()
            c1, t1, w1 = time.process_time(), time.thread_time(), time.perf_counter()
            for payload, (status, answer) in zip(group, answers, strict=True):
                wanted = json.loads(payload)["variables"]["id"]
                got = json.loads(answer)
                if status != 200 or got["data"]["person"]["idNumber"] != wanted:
                    raise SystemExit(f"unexpected answer {status}: {answer[:300]!r}")
            if start >= WARMUP:  # per request of the group
                cpu.append((c1 - c0) * 1e6 / len(group))
                loop.append((t1 - t0) * 1e6 / len(group))
                wall.append((w1 - w0) * 1e6 / len(group))
        if profiler is not None:
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats(sort).print_stats(profile)
            print(out.getvalue())
        return {
            "scenario": "s1 one person by ID, 8 fields (GZ-PSB, demo deployment, SQLite)",
            "audit": "SQLite in --data" if not audit_url else audit_url.split("@")[-1],
            "requests": n,
            "concurrency": concurrency,
            "cpu_us_median": round(statistics.median(cpu), 1),
            "cpu_us_mean": round(statistics.fmean(cpu), 1),
            "loop_cpu_us_median": round(statistics.median(loop), 1),
            "loop_cpu_us_mean": round(statistics.fmean(loop), 1),
            "wall_us_median": round(statistics.median(wall), 1),
            "machine": f"{platform.node()} {platform.machine()} python {platform.python_version()}",
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        }
    finally:
        await lifespan.__aexit__(None, None, None)


def _over_http(settings: Settings, token: str, bodies: list[bytes], how: str) -> dict[str, Any]:
    import uvicorn  # noqa: PLC0415 (only this mode serves)

    parser, _, loop = how.partition("/")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    chosen = {"http": parser, "loop": loop} if (parser, loop) != ("h11", "asyncio") else {}
    options = ServerOptions(host="127.0.0.1", port=port, **chosen)  # type: ignore[arg-type]
    server = uvicorn.Server(ServerConfig(create_app(settings), options=options, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    clock = time.pthread_getcpuclockid(thread.ident or 0)
    head = (
        "POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {token}\r\nContent-Length: "
    ).encode()
    cpu: list[float] = []
    wall: list[float] = []
    with socket.create_connection(("127.0.0.1", port)) as connection:
        for i, payload in enumerate(bodies):
            c0, w0 = time.clock_gettime(clock), time.perf_counter()
            connection.sendall(head + str(len(payload)).encode() + b"\r\n\r\n" + payload)
            answer = b""
            while b"\r\n\r\n" not in answer or len(answer.partition(b"\r\n\r\n")[2]) < int(
                answer.lower().partition(b"content-length: ")[2].partition(b"\r\n")[0] or 1 << 30
            ):
                answer += connection.recv(65536)
            c1, w1 = time.clock_gettime(clock), time.perf_counter()
            wanted = json.loads(payload)["variables"]["id"]
            got = json.loads(answer.partition(b"\r\n\r\n")[2])
            if (
                not answer.startswith(b"HTTP/1.1 200")
                or got["data"]["person"]["idNumber"] != wanted
            ):
                raise SystemExit(f"unexpected answer: {answer[:300]!r}")
            if i >= WARMUP:
                cpu.append((c1 - c0) * 1e6)
                wall.append((w1 - w0) * 1e6)
    server.should_exit = True
    thread.join(30)
    return {
        "server_thread_cpu_us_median": round(statistics.median(cpu), 1),
        "server_thread_cpu_us_mean": round(statistics.fmean(cpu), 1),
        "wall_us_median": round(statistics.median(wall), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="a seeded folder (made when missing)")
    parser.add_argument("--requests", type=int, default=2_000)
    parser.add_argument("--profile", type=int, default=0, metavar="N")
    parser.add_argument("--audit-url", help="the audit store (default: SQLite in --data)")
    parser.add_argument("--sort", default="tottime", help="cProfile's order (tottime, cumtime)")
    parser.add_argument("--uvloop", action="store_true", help="run on uvloop's event loop")
    parser.add_argument(
        "--concurrency", type=int, default=1, help="requests in flight at once (in-process)"
    )
    parser.add_argument("--over-http", metavar="PARSER/LOOP", help="e.g. httptools/uvloop")
    args = parser.parse_args()
    data = args.data or Path(tempfile.mkdtemp(prefix="govgate-request-cpu-"))
    _seeded(data)
    if args.over_http:
        settings = Settings.demo(data)
        if args.audit_url:
            settings = dataclasses.replace(settings, audit_url=args.audit_url)
        token = issue_token(dev_signing_key(data), agency="GZ-PSB", ttl_seconds=3600)
        result = _over_http(settings, token, _bodies(data, WARMUP + args.requests), args.over_http)
        result |= {
            "over_http": args.over_http,
            "requests": args.requests,
            "audit": "SQLite in --data" if not args.audit_url else args.audit_url.split("@")[-1],
            "machine": f"{platform.node()} {platform.machine()} python {platform.python_version()}",
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        }
        print(json.dumps(result, indent=2))
        return
    factory: Any = None
    if args.uvloop:
        factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        result = runner.run(
            run(
                data,
                args.requests,
                profile=args.profile,
                sort=args.sort,
                audit_url=args.audit_url,
                concurrency=args.concurrency,
            )
        )
    result["loop"] = "uvloop" if args.uvloop else "asyncio"
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
