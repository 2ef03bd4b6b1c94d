"""Prometheus metrics: requests by agency and decision, latency, SQL per source, audit write lag,
the policy in force (docs/gateway.md, "Observability").

Each `Gateway` owns one `Metrics`. In a single process its metrics live in a private registry,
so two gateways in one process (the tests start many) never count into each other. Under
`govgate serve --workers N`, $PROMETHEUS_MULTIPROC_DIR names a folder the parent created
fresh; every worker writes its numbers there and whichever worker answers `/metrics` adds
them all up (prometheus_client's multiprocess mode, which reads the variable when it is first
imported: the workers are new processes started after it was set).

What is exposed names agencies, endpoints and decisions, never a record, a field value or a
query text.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from sqlalchemy import event

if TYPE_CHECKING:
    from collections.abc import Mapping
    from contextlib import AbstractContextManager

    from sqlalchemy.engine import Connection, ExecutionContext
    from sqlalchemy.ext.asyncio import AsyncEngine

    from gateway.trust.trail import Trail

__all__ = ["CONTENT_TYPE", "MULTIPROCESS_VARIABLE", "Metrics", "workers_exposition"]

#: The folder shared by worker processes; set by `govgate serve --workers N`.
MULTIPROCESS_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
#: The Prometheus text exposition format, as `/metrics` answers.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

#: Request latency: from 1 ms (a refused token) to 10 s (a source's time limit).
REQUEST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: Statement latency: a SQLite lookup takes a tenth of a millisecond.
SQL_BUCKETS = (0.0001, 0.00025, 0.0005, *REQUEST_BUCKETS)
#: A batch commit: a fsync or a network round trip, up to a slow disk under load.
COMMIT_BUCKETS = (0.0005, *REQUEST_BUCKETS[:-1])

# The same series from one process as from several workers (whose files keep no `_created`
# timestamps); a process-wide switch, and govgate is the only user of prometheus_client here.
disable_created_metrics()  # type: ignore[no-untyped-call]

_LIVE_FILE = re.compile(r"gauge_live[a-z]+_(\d+)\.db")


class Metrics:
    """The metrics of one gateway, and their exposition for `/metrics`.

    Args:
        multiprocess_dir: the folder worker processes share ($PROMETHEUS_MULTIPROC_DIR), or
            None for a single process.
    """

    def __init__(self, *, multiprocess_dir: str | None = None) -> None:
        self.multiprocess_dir = multiprocess_dir
        # Shared: the metrics write to files, and exposition reads every worker's files into a
        # fresh registry. Single: the metrics register here, and only here.
        self._registry = None if multiprocess_dir else CollectorRegistry()
        registry = self._registry
        self.requests = Counter(
            "govgate_requests", "Requests answered, by agency (`none` when unauthenticated), "
            "endpoint and decision (allowed, refused, unauthenticated, failed).",
            ["agency", "endpoint", "decision"], registry=registry,
        )  # fmt: skip
        self.request_seconds = Histogram(
            "govgate_request_duration_seconds", "Time to answer a request, its audit record "
            "committed, by endpoint and decision.",
            ["endpoint", "decision"], buckets=REQUEST_BUCKETS, registry=registry,
        )  # fmt: skip
        # Each request's labelled series, looked up once per label set: `labels()` validates
        # and locks on every call, and the sets are few (agencies, endpoints, decisions).
        self._counted: dict[tuple[str, str, str], Any] = {}
        self._timed: dict[tuple[str, str], Any] = {}
        self.statements = Counter(
            "govgate_sql_statements", "SQL statements sent, by source (`audit`: the audit store's "
            "database, which also holds the published policy).", ["source"], registry=registry,
        )  # fmt: skip
        self.statement_seconds = Histogram(
            "govgate_sql_statement_duration_seconds", "Time a SQL statement took, by source "
            "(statements that raised are not timed).",
            ["source"], buckets=SQL_BUCKETS, registry=registry,
        )  # fmt: skip
        self.audit_written = Counter(
            "govgate_audit_records_written", "Audit records committed to the audit log.",
            registry=registry,
        )  # fmt: skip
        self.audit_batches = Counter(
            "govgate_audit_batches", "Audit batches committed (one transaction each).",
            registry=registry,
        )  # fmt: skip
        self.audit_commit_seconds = Histogram(
            "govgate_audit_commit_duration_seconds", "Time to commit an audit batch.",
            buckets=COMMIT_BUCKETS, registry=registry,
        )  # fmt: skip
        self.audit_last_commit = Gauge(
            "govgate_audit_last_commit_seconds", "Time the last audit batch took to commit.",
            registry=registry, multiprocess_mode="mostrecent",
        )  # fmt: skip
        self.audit_pending = Gauge(
            "govgate_audit_records_pending", "Requests whose audit record is waiting to "
            "commit (their responses are held until it does).",
            registry=registry, multiprocess_mode="livesum",
        )  # fmt: skip
        self.policy_info = Gauge(
            "govgate_policy_info", "1 for the policy version served (by any worker).",
            ["version"], registry=registry, multiprocess_mode="livemax",
        )  # fmt: skip
        self.policy_row = Gauge(
            "govgate_policy_id", "The policy_versions row served (the oldest any worker "
            "serves: the newest published once every worker followed a reload).",
            registry=registry, multiprocess_mode="livemin",
        )  # fmt: skip
        self.witness_published = Counter(
            "govgate_audit_witness_published", "Signed chain heads published, by witness.",
            ["witness"], registry=registry,
        )  # fmt: skip
        self.witness_failures = Counter(
            "govgate_audit_witness_failures", "Attempts to publish the chain head that failed, "
            "by witness (requests are not affected; see docs/security.md).",
            ["witness"], registry=registry,
        )  # fmt: skip
        self.witness_seq = Gauge(
            "govgate_audit_witness_seq", "The last record whose signed head a witness holds.",
            ["witness"], registry=registry, multiprocess_mode="max",
        )  # fmt: skip
        self.rate_limited = Counter(
            "govgate_rate_limited", "Requests and verifications refused by a rate limit, by "
            "agency and limit (docs/security.md).", ["agency", "limit"], registry=registry,
        )  # fmt: skip
        self.misuse = Counter(
            "govgate_misuse_flags", "Misuse flags written to the audit log (Art. 34(4)), by "
            "agency and rule, e.g. verify-candidates.", ["agency", "rule"], registry=registry,
        )  # fmt: skip
        self._version: str | None = None

    @classmethod
    def from_environment(cls) -> Metrics:
        """Shared between workers when $PROMETHEUS_MULTIPROC_DIR is set, else private."""
        return cls(multiprocess_dir=os.environ.get(MULTIPROCESS_VARIABLE) or None)

    # -- what the gateway reports ---------------------------------------------------------------

    def watch(self, engines: Mapping[str, AsyncEngine]) -> None:
        """Count and time every statement sent through each engine, by source name."""
        for source, engine in engines.items():
            _time_statements(
                engine, self.statements.labels(source), self.statement_seconds.labels(source)
            )

    def pending(self) -> AbstractContextManager[object]:
        """Within the block, one more request waits for its audit record."""
        return self.audit_pending.track_inprogress()

    def answered(
        self, trail: Trail, *, decision: str | None = None, endpoint: str | None = None
    ) -> None:
        """A request was answered (after its audit record, or its failure, was settled).

        `endpoint` is the label to count it under (default: the trail's); unknown paths share
        one (`other`), so a scanner cannot grow the metrics without bound.
        """
        decision = decision or trail.decision
        endpoint = endpoint or trail.endpoint
        counted_as = (trail.agency or "none", endpoint, decision)
        counted = self._counted.get(counted_as)
        if counted is None:
            counted = self._counted[counted_as] = self.requests.labels(*counted_as)
        counted.inc()
        seconds = time.perf_counter() - trail.started
        timed = self._timed.get((endpoint, decision))
        if timed is None:
            timed = self._timed[endpoint, decision] = self.request_seconds.labels(
                endpoint, decision
            )
        timed.observe(seconds)

    def audited(self, records: int, seconds: float) -> None:
        """The audit writer committed a batch of `records` in `seconds` (its `on_commit`)."""
        self.audit_written.inc(records)
        self.audit_batches.inc()
        self.audit_commit_seconds.observe(seconds)
        self.audit_last_commit.set(seconds)

    def witnessed(self, witness: str, ok: bool, seq: int) -> None:
        """A publication to `witness` succeeded or failed; it now holds the head of `seq`."""
        (self.witness_published if ok else self.witness_failures).labels(witness).inc()
        self.witness_seq.labels(witness).set(seq)

    def serving(self, version: str) -> None:
        """The policy served is now `version`."""
        if version == self._version:
            return
        if self._version is not None:
            if self.multiprocess_dir:  # worker files cannot forget a series: it stays, at 0
                self.policy_info.labels(self._version).set(0)
            else:
                self.policy_info.remove(self._version)
        self.policy_info.labels(version).set(1)
        self._version = version

    def close(self) -> None:
        """This process stops serving: its live gauges (pending, policy) leave the sums."""
        if self.multiprocess_dir:
            mark_process_dead(os.getpid(), self.multiprocess_dir)  # type: ignore[no-untyped-call]

    # -- what /metrics answers ------------------------------------------------------------------

    def exposition(self) -> bytes:
        """Every metric in the Prometheus text format: this process's, or every worker's."""
        if self._registry is not None:
            return generate_latest(self._registry)
        return workers_exposition(self.multiprocess_dir or "")


def workers_exposition(folder: str) -> bytes:
    """Every worker's metrics in `folder`, added up, in the Prometheus text format."""
    _forget_dead_workers(folder)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=folder)  # type: ignore[no-untyped-call]
    return generate_latest(registry)


def _time_statements(engine: AsyncEngine, statements: Counter, seconds: Histogram) -> None:
    """Count each statement `engine` sends, and time those that return."""

    def before(
        _conn: Connection, _cursor: Any, _statement: str, _parameters: Any,
        context: ExecutionContext | None, _executemany: bool,
    ) -> None:  # fmt: skip
        statements.inc()
        if context is not None:  # one per statement: the start time travels with it
            context._govgate_started = time.perf_counter()  # type: ignore[attr-defined]

    def after(
        _conn: Connection, _cursor: Any, _statement: str, _parameters: Any,
        context: ExecutionContext | None, _executemany: bool,
    ) -> None:  # fmt: skip
        started = getattr(context, "_govgate_started", None)
        if started is not None:
            seconds.observe(time.perf_counter() - started)

    event.listen(engine.sync_engine, "before_cursor_execute", before)
    event.listen(engine.sync_engine, "after_cursor_execute", after)


def _forget_dead_workers(folder: str) -> None:
    """Drop the live gauges of workers that died without closing (uvicorn replaces them), so a
    crashed worker's pending records and policy do not linger in the sums."""
    for path in Path(folder).glob("gauge_live*_*.db"):
        match = _LIVE_FILE.fullmatch(path.name)
        if match is None:
            continue
        pid = int(match.group(1))
        try:
            os.kill(pid, 0)  # signal 0: only asks whether the process exists
        except ProcessLookupError:
            with contextlib.suppress(FileNotFoundError):  # another worker got there first
                mark_process_dead(pid, folder)  # type: ignore[no-untyped-call]
        except PermissionError:  # exists, under another user: not ours to judge
            continue
