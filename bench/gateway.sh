#!/usr/bin/env bash
# Gateway throughput benchmark: seeds the base databases, serves the GraphQL gateway on
# 127.0.0.1 and drives it with wrk; measures the SQL floor and access control in the same run.
#
#   bench/gateway.sh [PERSONS]      (default 100000; 1000000 also works)
#
# Environment: GW_DURATION (seconds per measured run, default 15), GW_WARMUP (default 3),
# GW_REPEAT (runs per point, default 2), GW_CONNECTIONS (default 16), GW_DOC (the Markdown
# file whose generated block is rewritten, default docs/benchmarks.md; "-" for none),
# GW_MAX_OTHERS (default 25) and GW_QUIET_BUDGET (default 900): before each run, wait (up to
# 60 s, and up to GW_QUIET_BUDGET seconds over the whole run) until other processes use at most
# GW_MAX_OTHERS % of one core, and measure a run during which they used more again (at most
# twice); contended runs kept once the budget is spent are flagged in the report;
# GW_BASELINE (a commit, e.g. 98875e4: also serve the gateway at that commit, from `git
# archive`, and measure it beside the current one; figures from another day or machine are
# not comparable, these are).
#
# What it does:
#   1. installs wrk (Debian package) if missing, and py-spy into bench/out/tools (for the
#      profile; skipped if PyPI is unreachable);
#   2. seeds bench/out/gw-data with `govgate seed --persons PERSONS` unless it already holds
#      that many persons in files of the current schema (the `updated_at` indexes the
#      freshness check reads; older files lack them), then `govgate demo --no-serve` there
#      (signing key and policy); the audit database there is emptied at the start of each run;
#   3. runs bench/gw_run.py: per scenario, the floor (bench/gw_floor.py: the same SQL through
#      the same driver, no GraphQL), the gateway as GZ-PSB (all person fields but two) and as
#      TH-CA (one district, fewer fields), the gateway with authorization stubbed and with
#      the token check also stubbed, one GC experiment, and the gateway with its audit
#      store's append a no-op, and with only the voucher rows left out of its commits, for
#      the audit's and the vouchers' cost (and, with GW_BASELINE, the gateway at that commit); checks every answer and every variant, counts SQL statements per request
#      and audit records per commit, profiles two scenarios with py-spy. All servers run from
#      a copy of the product's source (bench/out/gw-src) and stay up, paused but for the one
#      being measured, and the runs go scenario by scenario across them, so that a point and
#      the floor it is compared with are measured minutes apart;
#   4. writes bench/out/gateway.json and bench/out/gateway.md, and rewrites the generated
#      block of "## Gateway throughput" in docs/benchmarks.md.
# Every server it starts listens on 127.0.0.1 only and is stopped on exit or interrupt.
# The machine should be otherwise idle: wrk and the gateway share its cores.
set -euo pipefail
cd "$(dirname "$0")/.."
persons="${1:-100000}"
case "$persons" in ''|*[!0-9]*) echo "PERSONS must be a number, not '$persons'" >&2; exit 2;; esac
out=bench/out
data="$out/gw-data"
mkdir -p "$out"

. bench/_setup.sh  # wrk and the virtualenv
if [ ! -x "$out/tools/bin/py-spy" ]; then
  .venv/bin/pip install -q --target "$out/tools" py-spy >/dev/null 2>&1 \
    || echo "py-spy could not be installed: the run goes on without the profile."
fi

have=0
if [ -f "$data/persons.db" ] && [ -f "$data/licenses.db" ] && [ -f "$data/land.db" ] \
   && [ -f "$data/entities.db" ]; then
  # The person count, or 0 when a file predates the `updated_at` indexes (re-seed).
  have=$(.venv/bin/python -c 'import sqlite3, sys
def count(persons, *files):
    for path in files:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        found = db.execute("SELECT count(*) FROM sqlite_master WHERE type = ? AND sql LIKE ?",
                           ("index", "%(updated_at)%")).fetchone()[0]
        db.close()
        if not found:
            print(f"{path} lacks the updated_at index (older schema)", file=sys.stderr)
            return 0
    db = sqlite3.connect(f"file:{persons}?mode=ro", uri=True)
    return db.execute("SELECT count(*) FROM persons").fetchone()[0]
try:
    print(count(*sys.argv[1:]))
except sqlite3.Error:
    print(0)' "$data/persons.db" "$data"/{persons,licenses,land,entities}.db)
fi
if [ "$have" != "$persons" ]; then
  echo "Seeding $persons persons into $data/ ..."
  .venv/bin/govgate seed --data "$data" --persons "$persons" --replace
else
  echo "Reusing $data/ ($persons persons; delete it to seed afresh)."
fi
.venv/bin/govgate demo --data "$data" --no-serve >"$out/gw-demo.txt"

load=$(cut -d' ' -f1 /proc/loadavg)
if awk -v l="$load" 'BEGIN { exit !(l > 0.5) }'; then
  echo "Note: load average $load; other work on the machine lowers and blurs the figures."
fi

runner=""
cleanup() {
  if [ -n "$runner" ] && kill -0 "$runner" 2>/dev/null; then
    kill -TERM "$runner" 2>/dev/null || true  # gw_run.py stops its servers on SIGTERM
    wait "$runner" 2>/dev/null || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

.venv/bin/python bench/gw_run.py --data "$data" --out "$out" \
  --duration "${GW_DURATION:-15}" --warmup "${GW_WARMUP:-3}" --repeat "${GW_REPEAT:-2}" \
  --connections "${GW_CONNECTIONS:-16}" --doc "${GW_DOC:-docs/benchmarks.md}" \
  --max-others "${GW_MAX_OTHERS:-25}" --quiet-budget "${GW_QUIET_BUDGET:-900}" \
  ${GW_BASELINE:+--baseline "$GW_BASELINE"} \
  --command "${GW_BASELINE:+GW_BASELINE=$GW_BASELINE }bench/gateway.sh${1:+ $1}" &
runner=$!
status=0
wait "$runner" || status=$?
runner=""
exit "$status"
