"""Records per second into the audit store with 1, 2, 4 and 8 writer processes (issue 11).

    PYTHONPATH=. .venv/bin/python bench/audit_writers.py [--writers 1,2,4,8] [--seconds 3]
        [--clients 64] [--dsn postgresql://postgres@127.0.0.1:5432/test]

Each point gets a fresh PostgreSQL database. Each writer process is what one gateway worker
runs: one `AuditStore` signed with a keyring and one `AuditWriter` (group commit), fed by
`--clients` concurrent tasks that each record an entry and wait for it to be durable before
the next, as requests do. After a one-second warm-up the records committed in `--seconds` are
counted; records/s is their sum over the processes. The script uses only the store's public
API (`AuditStore`, `AuditWriter.record`), so the same file runs against an older checkout
(the single-chain store) for the BEFORE column: `PYTHONPATH=<old checkout> python
bench/audit_writers.py`. Prints a Markdown table row per point.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import multiprocessing
import os
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg

from gateway.trust.audit import AuditEntry, AuditStore, AuditWriter, Operation
from gateway.trust.keyring import Keyring


def entry(process: int, number: int) -> AuditEntry:
    """A record the size of an s1 request's (one person, eight fields)."""
    return AuditEntry(
        at=time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{number % 1_000_000:06d}Z",
        request_id=f"bench-{process}-{number}",
        endpoint="/graphql",
        decision="allowed",
        agency="GZ-PSB",
        operations=(Operation("Person", "ab" * 32),),
        fields=tuple(f"Person.field{n}" for n in range(8)),
        records=(f"Person:{number:018d}",),
        policy_version="v1",
        latency_us=1_000,
    )


async def write(url: str, keys: str, process: int, clients: int, seconds: float) -> tuple[int, int]:
    """Run one writer process's clients for a warm-up second and `seconds`; the records and
    the batches (commits) counted."""
    store = AuditStore(url, signer=Keyring.open(keys).sign)
    await store.create()
    writer = AuditWriter(store)
    writer.start()
    counted = [0]
    batches = [0]
    state = {"counting": False, "stop": False}

    async def client(number: int) -> None:
        n = number * 10_000_000
        while not state["stop"]:
            await writer.record(entry(process, n))
            n += 1
            if state["counting"]:
                counted[0] += 1

    tasks = [asyncio.create_task(client(c)) for c in range(clients)]
    await asyncio.sleep(1.0)
    state["counting"] = True
    batches[0] = -writer.batches
    await asyncio.sleep(seconds)
    state["counting"] = False
    batches[0] += writer.batches
    state["stop"] = True
    await asyncio.gather(*tasks)
    await writer.close()
    await store.close()
    return counted[0], batches[0]


def _process(args: tuple[str, str, int, int, float, Any]) -> None:
    url, keys, process, clients, seconds, queue = args
    queue.put(asyncio.run(write(url, keys, process, clients, seconds)))


async def _admin(dsn: str, sql: str) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def point(dsn: str, writers: int, clients: int, seconds: float) -> tuple[float, float]:
    """Records/s and commits/s with `writers` processes on a fresh database."""
    name = f"govgate_bench_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin(dsn, f'CREATE DATABASE "{name}"'))
    url = dsn.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + f"/{name}"
    try:
        with tempfile.TemporaryDirectory() as keys:
            Keyring.open(Path(keys))  # made once: every process signs with the same key
            asyncio.run(_create(url))
            queue: Any = multiprocessing.get_context("spawn").Queue()
            context = multiprocessing.get_context("spawn")
            procs = [
                context.Process(target=_process, args=((url, keys, p, clients, seconds, queue),))
                for p in range(writers)
            ]
            for proc in procs:
                proc.start()
            results = [queue.get(timeout=seconds + 120) for _ in procs]
            for proc in procs:
                proc.join()
        return sum(r for r, _ in results) / seconds, sum(b for _, b in results) / seconds
    finally:
        asyncio.run(_admin(dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _create(url: str) -> None:
    store = AuditStore(url)
    try:
        await store.create()
    finally:
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writers", default="1,2,4,8")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument(
        "--dsn",
        default=os.environ.get(
            "GOVGATE_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"
        ),
    )
    options = parser.parse_args()
    chained = "checkpoint_interval_s" in inspect.signature(AuditWriter.__init__).parameters
    print(f"store: {'one chain per writer' if chained else 'one chain'} ({AuditStore.__module__})")
    print("| writer processes | records/s | commits/s |")
    print("|---:|---:|---:|")
    for writers in (int(w) for w in options.writers.split(",")):
        rate, commits = point(options.dsn, writers, options.clients, options.seconds)
        print(f"| {writers} | {rate:,.0f} | {commits:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
