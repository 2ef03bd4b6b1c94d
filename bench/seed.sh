#!/usr/bin/env bash
# Seeding benchmark: 1,000,000 persons with proportional other sources (200k entities,
# 250k parcels, 500k licences) into SQLite, on two worker processes.
#
#   bench/seed.sh [PERSONS]        (default 1000000; results also go to bench/out/seed.txt)
#
# Reports wall time, records per second, and the peak memory of each worker process (printed
# by `govgate seed`) and of the whole command (GNU time, if installed). See docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
persons="${1:-1000000}"
out=bench/out
mkdir -p "$out"
[ -x .venv/bin/govgate ] || { python3 -m venv .venv && .venv/bin/pip install -q -e .; }
{
  echo "# govgate seed benchmark, $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "# machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -srm)"
  echo "# python: $(.venv/bin/python --version)"
  echo "# sqlite: $(.venv/bin/python -c 'import sqlite3; print(sqlite3.sqlite_version)')"
  start=$(date +%s.%N)
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -f "# command: %e s wall, %M KiB peak RSS of the largest process" \
      .venv/bin/govgate seed --data "$out/seed-data" --persons "$persons" --replace 2>&1
  else
    .venv/bin/govgate seed --data "$out/seed-data" --persons "$persons" --replace
  fi
  end=$(date +%s.%N)
  total=$(( persons + persons / 5 + persons / 4 + persons / 2 ))
  awk -v s="$start" -v e="$end" -v n="$total" \
    'BEGIN { printf "# total: %d records in %.1f s = %.0f records/s\n", n, e - s, n / (e - s) }'
  du -sh "$out/seed-data" | awk '{print "# on disk: " $1}'
} | tee "$out/seed.txt"
