"""Benchmark launcher: the govgate gateway (or the SQL floor) on 127.0.0.1, plus /bench/stats.

    .venv/bin/python bench/gw_serve.py --data DIR --port PORT [--app gateway|floor]
                                       [--variant product|noauthz|noauth|gctuned|noaudit|novouchers]

Used by bench/gw_run.py (see bench/gateway.sh); nothing here is part of the product.

`--app gateway` serves `gateway.http.app.create_app(Settings.demo(DIR))` exactly as `govgate demo`
does (uvicorn, one worker, default event loop, log level warning). `--app floor` serves
bench/gw_floor.py: the same SQL statements through the same SQLAlchemy async engine and
aiosqlite driver, without GraphQL, tokens or grants.

Both get two extra routes, appended after the product's own (so they never sit in front of
/graphql): `GET /bench/stats` (SQL statements executed per source since the last reset, and
the distinct statement texts) and `POST /bench/reset`. They count with a SQLAlchemy
`before_cursor_execute` listener on every source engine. For the gateway, /bench/stats also
reports the audit writer since the last reset (records written, batches committed, from the
writer's own `written` and `batches` counters; the wall time spent in `AuditStore.append` and
the voucher rows handed to it with the batches) and the vouchers signed (how many, and the
time in `issue`). Those come from thin wrappers set in this process on the gateway's audit
store object and on `gateway.trust.evidence.issue` (two `perf_counter` calls per batch or voucher);
they change nothing else. It also names the folder the product was imported from (gw_run.py
serves a snapshot of the source tree, so that edits to the checkout during a run do not mix
two versions).

`--variant` (gateway only) changes the gateway in this process only, to measure what a part
costs:

* `product`: the gateway as shipped.
* `noauthz`: the token is still verified, but authorization is stubbed: the caller gets a
  grant set with every field readable and city-wide scope (its schema is the full schema),
  validation uses graphql-core's standard rules instead of the agency rule (the depth and alias
  limits stay), and the resolvers' column lists and row scopes skip the grant checks.
* `noauth`: `noauthz` and, in addition, the token is not verified (any bearer token is GZ-PSB).
* `gctuned`: the product, with `gc.freeze()` after start-up (an experiment for the report's
  suggestions; a deployment setting, not a code change).
* `noaudit`: the product, with the audit store's `append` replaced by a no-op that hands back
  sequence numbers: the trail is still gathered, the entry built and handed to the group-
  commit writer, which still batches and wakes the requests, and vouchers are still signed
  and attached, but nothing is hashed, inserted or committed: no disk writes at all (the
  vouchers are stored in the audit transaction, so they are not stored either).
* `baseline`: the product as served (gw_run.py serves it from an older commit's source, to
  compare with on the same machine in the same minutes).
* `novouchers`: the product, with the voucher rows dropped from each batch on their way to the
  audit store's `append` (vouchers still signed and attached to the answers; the audit records
  still written): what storing the vouchers adds to the audit's commits.
"""

from __future__ import annotations

import argparse
import gc
import inspect
import logging
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import uvicorn
from graphql import specified_rules
from sqlalchemy import event, select
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.graphql import execution
from gateway.identity import Identity
from policies.grants import Grants, RowScope
from resolvers import fetch, records, root
from sources.inventory import SOURCES, field_names

if TYPE_CHECKING:
    from starlette.requests import Request

log = logging.getLogger("govgate.bench")

BENCH_AGENCY = "GZ-PSB"


class StatementStats:
    """SQL statements executed per source, their distinct texts (bounded), and GC pauses;
    for the gateway also the audit writer's batches and the vouchers' signing and storing."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.texts: dict[str, int] = {}
        # Garbage-collector pauses by generation: [collections, seconds].
        self.gc: dict[int, list[float]] = {0: [0, 0.0], 1: [0, 0.0], 2: [0, 0.0]}
        self._gc_started = 0.0
        gc.callbacks.append(self._on_gc)
        self.writer: Any = None  # the gateway's AuditWriter
        self._writer_base = (0, 0)  # its (written, batches) at the last reset
        # [calls, seconds, max seconds] of AuditStore.append and of issue (signing a voucher).
        self.timed: dict[str, list[float]] = {k: [0, 0.0, 0.0] for k in ("append", "sign")}
        self.extra_rows = 0  # rows (vouchers) handed to append beside the entries

    def watch_gateway(self, gw: Any) -> None:
        """Time the audit store's append and the signing of vouchers (wrappers)."""
        self.writer = gw.audit
        store = gw.audit_store
        for obj, name in ((store, "append"), (gw.audit, "written"), (gw.audit, "batches")):
            if not hasattr(obj, name):
                raise SystemExit(f"{type(obj).__name__}.{name} is gone: update bench/gw_serve.py")
        import gateway.trust.evidence  # noqa: PLC0415 (not in a baseline from before the audit)

        if not hasattr(gateway.trust.evidence, "issue"):
            raise SystemExit("gateway.trust.evidence.issue is gone: update bench/gw_serve.py")
        append = store.append

        async def timed_append(entries: Any, extra: Any = (), *args: Any, **kwargs: Any) -> Any:
            self.extra_rows += len(extra)
            started = time.perf_counter()
            try:
                return await append(entries, extra, *args, **kwargs)
            finally:
                self._add("append", time.perf_counter() - started)

        store.append = timed_append
        gateway.trust.evidence.issue = self._timed_sync("sign", gateway.trust.evidence.issue)

    def _add(self, name: str, seconds: float) -> None:
        entry = self.timed[name]
        entry[0] += 1
        entry[1] += seconds
        entry[2] = max(entry[2], seconds)

    def _timed_sync(self, name: str, function: Any) -> Any:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self._add(name, time.perf_counter() - started)

        return timed

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            entry = self.gc[info["generation"]]
            entry[0] += 1
            entry[1] += time.perf_counter() - self._gc_started

    def listen(self, engines: dict[str, Any]) -> None:
        for name, engine in engines.items():
            event.listen(engine.sync_engine, "before_cursor_execute", self._counter(name))

    def _counter(self, name: str) -> Any:
        def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
            # aiosqlite runs the cursor in its own thread: count under a lock.
            with self.lock:
                self.counts[name] += 1
                if statement in self.texts:
                    self.texts[statement] += 1
                elif len(self.texts) < 200:
                    self.texts[statement] = 1

        return count

    async def stats(self, _request: Request) -> Response:
        with self.lock:
            return JSONResponse(
                {
                    "statements": dict(self.counts),
                    "total": sum(self.counts.values()),
                    "texts": self.texts,
                    "gc": {
                        str(g): {"collections": int(c), "seconds": round(t, 4)}
                        for g, (c, t) in self.gc.items()
                    },
                    "gc_objects": len(gc.get_objects()),
                    "source": str(Path(execution.__file__).resolve().parents[2]),
                    **self._evidence(),
                }
            )

    def _evidence(self) -> dict[str, Any]:
        if self.writer is None:
            return {}
        written = self.writer.written - self._writer_base[0]
        batches = self.writer.batches - self._writer_base[1]

        def timed(name: str) -> dict[str, float]:
            calls, seconds, longest = self.timed[name]
            return {"calls": int(calls), "seconds": round(seconds, 4),
                    "max_seconds": round(longest, 4)}  # fmt: skip

        audit = {
            "written": written,
            "batches": batches,
            "records_per_batch": written / batches if batches else None,
            "append": timed("append"),
            "voucher_rows": self.extra_rows,
        }
        return {"audit": audit, "vouchers": {"sign": timed("sign")}}

    async def reset(self, _request: Request) -> Response:
        with self.lock:
            self.counts.clear()
            self.texts.clear()
            for entry in self.gc.values():
                entry[:] = [0, 0.0]
            for entry in self.timed.values():
                entry[:] = [0, 0.0, 0.0]
            self.extra_rows = 0
            if self.writer is not None:
                self._writer_base = (self.writer.written, self.writer.batches)
        return JSONResponse({"reset": True})


def _stub_authorization(app: Any, *, verify_tokens: bool) -> None:
    """Replace the request path's authorization (and optionally authentication) in-process."""
    gw = app.state.gateway
    base = gw.served.policy.grants_for(BENCH_AGENCY)
    everything = frozenset(field_names())
    open_grants = Grants(
        agency=base.agency,
        readable=everything,
        verifiable=everything,
        scopes=MappingProxyType({s.entity: RowScope("city") for s in SOURCES.values()}),
        administrator=False,
        day=base.day,
    )
    gw.served.schemas.schema_for(open_grants)  # built now, not on the first request
    policy = gw.served.policy
    object.__setattr__(policy, "grants_for", lambda _code: open_grants)

    # Standard graphql-core validation (the three rules the agency rule replaces come back);
    # computed once, not per request. The product's limits (depth, aliases, size, cost) are
    # checked before validation, by gateway.graphql.bounds.measure, and stay.
    plain_rules = list(specified_rules)

    def plain_rules_for(*_args: Any, **_kwargs: Any) -> list[Any]:
        return plain_rules

    def columns_for(source: Any, names: Any, _grants: Any, extra: Any = ()) -> list[str]:
        wanted = set(names)
        columns = [source.field(source.key).columns[0], *extra]
        for spec in source.fields:
            if spec.name in wanted:
                columns.extend(spec.columns)
        return list(dict.fromkeys(columns))

    def scoped_select(_ctx: Any, source_name: str, columns: Any) -> Any:
        table = SOURCES[source_name].table
        return select(*(table.c[c] for c in columns))

    patches = [(execution, "rules_for", plain_rules_for), (root, "columns_for", columns_for),
               (records, "columns_for", columns_for), (root, "scoped_select", scoped_select),
               (fetch, "scoped_select", scoped_select)]  # fmt: skip
    for module, name, _ in patches:
        if not hasattr(module, name):
            raise SystemExit(f"{module.__name__}.{name} is gone: update bench/gw_serve.py")
    for module, name, replacement in patches:
        setattr(module, name, replacement)

    if not verify_tokens:

        async def authenticate(authorization: str | None) -> Identity:
            if not authorization:
                from gateway.errors import AuthenticationError  # noqa: PLC0415

                raise AuthenticationError("missing_token", "no token")
            return Identity(BENCH_AGENCY)

        gw.authenticator.authenticate = authenticate


def _stub_audit_append(app: Any) -> None:
    """The audit store's append becomes a no-op: sequence numbers, no hashing, no disk."""
    store = app.state.gateway.audit_store
    if not hasattr(store, "append"):
        raise SystemExit("AuditStore.append is gone: update bench/gw_serve.py")
    last = 0

    async def append(entries: Any, *_extra: Any, **_kwargs: Any) -> list[int]:
        nonlocal last
        numbers = list(range(last + 1, last + 1 + len(entries)))
        last += len(entries)
        return numbers

    store.append = append


def _drop_voucher_rows(app: Any) -> None:
    """The audit store's append gets the entries only, not the vouchers' rows beside them."""
    store = app.state.gateway.audit_store
    if "extra" not in inspect.signature(store.append).parameters:
        raise SystemExit("AuditStore.append takes no extra rows: update bench/gw_serve.py")
    append = store.append

    async def entries_only(entries: Any, *_extra: Any, **_kwargs: Any) -> list[int]:
        numbers: list[int] = await append(entries)
        return numbers

    store.append = entries_only


def build(args: argparse.Namespace) -> Any:
    data = Path(args.data).resolve()
    stats = StatementStats()
    if args.app == "floor":
        from gw_floor import create_floor  # noqa: PLC0415 (bench/ is on sys.path)

        app, engines = create_floor(data)
    else:
        from gateway.http.app import create_app  # noqa: PLC0415
        from gateway.settings import Settings  # noqa: PLC0415

        app = create_app(Settings.demo(data, host="127.0.0.1", port=args.port))
        if args.variant in ("noauthz", "noauth"):
            _stub_authorization(app, verify_tokens=args.variant == "noauthz")
        elif args.variant == "gctuned":
            # A deployment knob, not a product change: move everything built at start-up
            # (modules, schemas, policy, SQLAlchemy metadata) out of the collector's reach, so
            # the full collections that requests trigger no longer walk it.
            gc.collect()
            gc.freeze()
        elif args.variant == "noaudit":
            _stub_audit_append(app)
        elif args.variant == "novouchers":
            _drop_voucher_rows(app)
        engines = app.state.gateway.engines
        if hasattr(app.state.gateway, "audit"):  # a baseline from before the audit has none
            stats.watch_gateway(app.state.gateway)
    stats.listen(engines)
    app.router.routes.append(Route("/bench/stats", stats.stats, methods=["GET"]))
    app.router.routes.append(Route("/bench/reset", stats.reset, methods=["POST"]))
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--app", choices=("gateway", "floor"), default="gateway")
    parser.add_argument(
        "--variant",
        choices=("product", "noauthz", "noauth", "gctuned", "noaudit", "novouchers", "baseline"),
        default="product",
    )
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).parent))
    app = build(args)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
