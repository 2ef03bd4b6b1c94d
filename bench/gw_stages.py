"""Where one gateway request's CPU goes, stage by stage, measured in-process without HTTP.

    .venv/bin/python bench/gw_stages.py --data DIR --bodies DIR [--requests 300]

Builds the app as the benchmark serves it and, for each scenario's request bodies, times the
stages `graphql_post` runs, one request at a time on one event loop (mean microseconds of the
event loop thread's CPU, which is what bounds the throughput: SQLite runs in aiosqlite's thread):

* token: `Authenticator.authenticate` (EdDSA signature and claims);
* grants + schema: `policy.grants_for` and `schemas.schema_for`;
* parse: `graphql.parse` with the token limit;
* validate: `graphql.validate` with the agency's rules (`rules_for`, built per request as the
  gateway does), and, for comparison, with graphql-core's standard rules built once;
* execute: `graphql.execute` with a fresh request context (resolvers, DataLoaders, SQL), also
  as wall-clock time (which includes waiting for SQLite);
* freshness + voucher: `GatewayEvidence.attach` (stale-data warnings from the cached newest
  times; for documentary answers, signing the voucher and storing it), CPU and wall clock;
* audit record: the request's `Trail` (filled as `graphql_post` fills it, the voucher's row
  included) recorded by `Gateway.record` (entry, group-commit writer, hash chain, insert,
  signed head, commit with synchronous=FULL), CPU and wall clock. One request at a time,
  each record is a batch of one: under load the writer groups them, so a commit's CPU and
  its fsync are shared by a batch (see the audit figures of gw_run.py).

The collector is paused while a request runs (and run every 50 requests), so these are the
stages' own costs; what the collector costs under load is measured by gw_run.py. Prints JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import inspect
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from graphql import execute, parse, specified_rules, validate
from starlette.responses import Response

from gateway.graphql.reads import fields_read
from gateway.graphql.rules import rules_for
from gateway.http.app import create_app
from gateway.settings import Settings
from gateway.trust.trail import Trail
from gateway.trust.vouchers.store import voucher_row, vouchers


def _token(data: Path, agency: str) -> str:
    govgate = str(Path(sys.executable).with_name("govgate"))
    done = subprocess.run(
        [govgate, "token", "--agency", agency, "--data", str(data)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return done.stdout.strip()


def cpu() -> float:
    """CPU time of this thread, the event loop's (SQLite runs in aiosqlite's own thread)."""
    return time.thread_time()


async def stages(data: Path, bodies_dir: Path, n: int) -> dict[str, Any]:
    app = create_app(Settings.demo(data))
    gw = app.state.gateway
    limits = gw.settings.limits
    wanted = inspect.signature(rules_for).parameters
    limit_args = {k: getattr(limits, k) for k in wanted if hasattr(limits, k)}
    header = f"Bearer {_token(data, 'GZ-PSB')}"
    await gw.start()  # the audit store and writer, the voucher tables
    out: dict[str, Any] = {}
    for name in ("s1-city", "s2-city", "s3-city"):
        lines = (bodies_dir / f"{name}.txt").read_text("utf-8").splitlines()
        times: dict[str, list[float]] = {k: [] for k in (
            "token", "grants + schema", "parse", "validate (agency rules)",
            "validate (standard rules)", "execute", "execute, wall clock",
            "freshness + voucher", "freshness + voucher, wall clock",
            "audit record (batch of 1)", "audit record, wall clock")}  # fmt: skip
        for i in range(n + 20):  # the first 20 warm caches up and are not counted
            body = json.loads(lines[i % len(lines)])
            if i % 50 == 0:
                gc.collect()
            gc.disable()
            try:
                t0 = cpu()
                agency = (await gw.authenticator.authenticate(header)).agency
                t1 = cpu()
                served = gw.served
                grants = served.policy.grants_for(agency)
                schema = served.schemas.schema_for(grants)
                t2 = cpu()
                document = parse(body["query"], max_tokens=limits.max_tokens)
                # The two validations alternate in order, so neither always finds warm caches.
                t3 = cpu()
                if i % 2:
                    plain = validate(schema._schema, document, specified_rules)
                    t4b = cpu()
                problems = validate(schema._schema, document,
                                    rules_for(grants.agency.code, **limit_args))  # fmt: skip
                t4 = cpu()
                if not i % 2:
                    plain = validate(schema._schema, document, specified_rules)
                t5 = cpu()
                if i % 2:  # standard first: t3..t4b standard, t4b..t4 agency
                    agency_span, standard_span = t4 - t4b, t4b - t3
                else:
                    agency_span, standard_span = t4 - t3, t5 - t4
                wall = time.perf_counter()
                context = gw.context(served, grants, f"stage{i}")
                outcome = execute(schema._schema, document, context_value=context,
                                  variable_values=body.get("variables"),
                                  operation_name=body.get("operationName"))  # fmt: skip
                result = await outcome if inspect.isawaitable(outcome) else outcome
                t6 = cpu()
                wall = time.perf_counter() - wall
                # As graphql_post goes on: evidence, then the audit record.
                response: dict[str, Any] = {"data": result.data}
                read = fields_read(schema._schema, document, body.get("operationName"))
                wall_evidence = time.perf_counter()
                voucher = await gw.evidence.attach(
                    response, catalog=served.policy.catalog, grants=grants,
                    request_id=context.request_id, fields=read,
                    entities={entity for entity, _ in context.returned}, now=context.now,
                )  # fmt: skip
                t7 = cpu()
                wall_evidence = time.perf_counter() - wall_evidence
                wall_audit = time.perf_counter()
                trail = Trail("/graphql", context.request_id, gw.timestamp())
                trail.agency = agency
                trail.policy_version = served.policy.version
                trail.operation(body)
                trail.result(response)
                trail.fields |= read
                trail.records += [f"{entity}:{key}" for entity, key in context.returned]
                trail.flags += context.flags
                if voucher is not None:
                    trail.vouchers.append(voucher.id)
                    trail.evidence.append((vouchers, voucher_row(voucher)))
                await gw.record(trail, Response())
                t8 = cpu()
                wall_audit = time.perf_counter() - wall_audit
            finally:
                gc.enable()
            if problems or plain or result.errors:
                raise SystemExit(f"{name}: {problems or plain or result.errors}")
            if i >= 20:
                spans = (t1 - t0, t2 - t1, t3 - t2, agency_span, standard_span, t6 - t5, wall,
                         t7 - t6, wall_evidence, t8 - t7, wall_audit)  # fmt: skip
                for key, seconds in zip(times, spans, strict=True):
                    times[key].append(seconds * 1e6)
        out[name] = {k: round(statistics.mean(v), 1) for k, v in times.items()}
    await gw.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--bodies", required=True, type=Path)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(stages(args.data, args.bodies, args.requests))))


if __name__ == "__main__":
    main()
