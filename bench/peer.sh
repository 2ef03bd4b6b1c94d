#!/usr/bin/env bash
# Peer benchmark: govgate against PostGraphile 4 and PostgreSQL itself (pgbench), on the same
# PostgreSQL rows, in one run. See docs/benchmarks.md "## Peer comparison".
#
#   bench/peer.sh [PERSONS]        (default 100000)
#
# Needs PostgreSQL at 127.0.0.1:5432 (user postgres, trust auth; PEER_PG_HOST, PEER_PG_PORT,
# PEER_PG_USER for another), Node.js and npm (PostGraphile is installed from npm into
# bench/out/peer/node), wrk and pgbench (installed from Debian's packages when run as root).
#
# Environment (defaults in brackets): PEER_DURATION seconds measured per run [15],
# PEER_WARMUP [3], PEER_REPEAT runs per point [3], PEER_CONNECTIONS wrk connections [32],
# PEER_THREADS wrk threads [2], PEER_WORKERS per system [2], PEER_POOL database connections per
# worker (and source) [4], PEER_COMPARE keys whose answers are compared per scenario [50],
# PEER_SQL_SAMPLE requests per scenario for the SQL count [20], PEER_PGBENCH_CLIENTS [2,4,8],
# PEER_MAX_OTHERS % of a core other processes may use during a run [25], PEER_QUIET_BUDGET
# seconds the run may wait for that, in all [600], PEER_DB [govgate_bench; its audit store is
# PEER_DB_audit], PEER_DOC the Markdown file whose generated block is rewritten
# [docs/benchmarks.md; "-" for none].
#
# A smoke run (about 4 minutes once seeded; the figures mean little):
#   PEER_DURATION=3 PEER_WARMUP=1 PEER_REPEAT=1 PEER_QUIET_BUDGET=0 PEER_DOC=- bench/peer.sh
#
# Results: bench/out/peer.json, bench/out/peer/ (logs, bodies, generated configuration).
# Every server it starts listens on 127.0.0.1 and is stopped on exit or interrupt.
set -euo pipefail
cd "$(dirname "$0")/.."
persons="${1:-100000}"
case "$persons" in ''|*[!0-9]*) echo "PERSONS must be a number, not '$persons'" >&2; exit 2;; esac
out=bench/out/peer
postgraphile_version="${PEER_POSTGRAPHILE_VERSION:-4.14.1}"
mkdir -p "$out/node"

. bench/_setup.sh  # wrk and the virtualenv
if ! command -v pgbench >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    echo "Installing pgbench (Debian package postgresql-client) ..."
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql-client >/dev/null \
      || { apt-get update -q >/dev/null \
           && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql-client >/dev/null; }
  else
    echo "pgbench is missing: sudo apt-get install postgresql-client, then run this again." >&2
    exit 1
  fi
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "Node.js and npm are needed for PostGraphile: apt-get install nodejs npm (or Node 20" \
       "from your usual source), then run this again." >&2
  exit 1
fi

installed=$(node -p "try { require('./$out/node/node_modules/postgraphile/package.json').version }
                     catch (e) { '' }" 2>/dev/null || true)
if [ "$installed" != "$postgraphile_version" ]; then
  echo "Installing PostGraphile $postgraphile_version (npm) into $out/node ..."
  [ -f "$out/node/package.json" ] \
    || echo '{"name": "govgate-peer-bench", "private": true, "version": "0.0.0"}' \
       >"$out/node/package.json"
  if ! (cd "$out/node" && npm install --no-audit --no-fund --save-exact --loglevel=error \
          "postgraphile@$postgraphile_version" >/dev/null); then
    echo "npm could not install postgraphile@$postgraphile_version: check that the npm" \
         "registry answers (npm config get registry; npm view postgraphile version)." >&2
    exit 1
  fi
fi

settings=$(env | grep -E '^PEER_[A-Z_]+=' | sort | tr '\n' ' ' || true)

runner=""
cleanup() {
  if [ -n "$runner" ] && kill -0 "$runner" 2>/dev/null; then
    kill -TERM "$runner" 2>/dev/null || true  # peer_run.py stops its servers on SIGTERM
    wait "$runner" 2>/dev/null || true
  fi
  # Servers a killed runner left behind: the process groups it listed, if still ours.
  if [ -s "$out/servers.pgid" ]; then
    while read -r pgid name; do
      if ps -o args= -p "$pgid" 2>/dev/null | grep -q -e peer_serve.py -e postgraphile; then
        echo "Stopping $name (process group $pgid) left behind." >&2
        kill -CONT -- "-$pgid" 2>/dev/null || true
        kill -TERM -- "-$pgid" 2>/dev/null || true
      fi
    done <"$out/servers.pgid"
    : >"$out/servers.pgid"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

.venv/bin/python bench/peer_run.py --persons "$persons" --out "$out" \
  --duration "${PEER_DURATION:-15}" --warmup "${PEER_WARMUP:-3}" --repeat "${PEER_REPEAT:-3}" \
  --connections "${PEER_CONNECTIONS:-32}" --threads "${PEER_THREADS:-2}" \
  --workers "${PEER_WORKERS:-2}" --pool "${PEER_POOL:-4}" --compare "${PEER_COMPARE:-50}" \
  --sql-sample "${PEER_SQL_SAMPLE:-20}" --pgbench-clients "${PEER_PGBENCH_CLIENTS:-2,4,8}" \
  --max-others "${PEER_MAX_OTHERS:-25}" --quiet-budget "${PEER_QUIET_BUDGET:-600}" \
  --db "${PEER_DB:-govgate_bench}" --doc "${PEER_DOC:-docs/benchmarks.md}" \
  --command "${settings}bench/peer.sh${1:+ $1}" &
runner=$!
status=0
wait "$runner" || status=$?
runner=""
exit "$status"
