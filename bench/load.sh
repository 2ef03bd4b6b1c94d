#!/usr/bin/env bash
# Load test: 60 seconds of mixed traffic on `govgate serve --workers 2`, every source and the
# audit store on PostgreSQL; checks zero errors, one audit record per request, an intact chain
# and flat memory, and writes docs/benchmarks.md "## Load test".
#
#   bench/load.sh [PERSONS] [DURATION]      (defaults: 100000 persons, 60 s)
#
# Needs PostgreSQL at 127.0.0.1:5432 (trust auth; GOVGATE_BENCH_PG to use another) and wrk
# (installed from Debian's packages when run as root). Results: bench/out/load/.
set -euo pipefail
cd "$(dirname "$0")/.."
persons="${1:-100000}"
duration="${2:-60}"

. bench/_setup.sh  # wrk and the virtualenv
exec .venv/bin/python bench/load_run.py --persons "$persons" --duration "$duration" \
  --pg "${GOVGATE_BENCH_PG:-postgresql://postgres@127.0.0.1:5432}"
