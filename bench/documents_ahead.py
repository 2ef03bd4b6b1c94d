"""What compiling ahead takes off an approved document's first request (docs/benchmarks.md).

Validating a document and compiling its plans (gateway.graphql.ahead.compile_ahead) for GZ-PSB,
per bench operation, the median of 30 fresh texts (each new, so nothing is cached):

    govgate seed --data /tmp/docbench --persons 10000
    PYTHONPATH=. python bench/documents_ahead.py /tmp/docbench
"""

from __future__ import annotations

import statistics
import sys
import time
from datetime import date
from pathlib import Path

from bench.gw_scenarios import OPERATIONS
from gateway.graphql.ahead import compile_ahead
from gateway.policy.served import PolicyTexts, Served
from gateway.settings import Settings


def main(data: Path) -> None:
    settings = Settings.demo(data)
    served = Served.build(PolicyTexts.read(settings), date(2026, 12, 1))
    grants = served.policy.bound_grants("GZ-PSB", None)
    schema = served.schemas.schema_for(grants)
    for name, text in OPERATIONS.items():
        times, planned = [], 0
        for i in range(30):
            started = time.perf_counter()
            planned = compile_ahead(
                f"{text} # {i}", schema=schema, grants=grants,
                policy_version=served.policy.version, limits=settings.limits,
            )  # fmt: skip
            times.append((time.perf_counter() - started) * 1000)
        print(f"{name:18s} {statistics.median(times):5.2f} ms (plans: {planned})")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
