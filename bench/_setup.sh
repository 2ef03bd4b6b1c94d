# Sourced by bench/gateway.sh and bench/load.sh (from the repository root): wrk from Debian's
# packages when missing (as root), and the project's virtualenv.
if ! command -v wrk >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    echo "Installing wrk (Debian package) ..."
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >/dev/null \
      || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >/dev/null; }
  else
    echo "wrk is missing: sudo apt-get install wrk, then run this again." >&2
    exit 1
  fi
fi
[ -x .venv/bin/govgate ] || { python3 -m venv .venv && .venv/bin/pip install -q -e .; }
