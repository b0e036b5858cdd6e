#!/usr/bin/env bash
# Set up everything the test suite needs on a fresh machine, then run it.
# Used by the README's second command and by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

# System packages: real NBD servers, disk images, TLS certificates, lnav (benchmarks only).
need=()
for pair in nbdkit:nbdkit qemu-img:qemu-utils certtool:gnutls-bin nbdcopy:libnbd-bin lnav:lnav pgrep:procps; do
  cmd=${pair%%:*} pkg=${pair##*:}
  command -v "$cmd" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "scripts/test.sh: missing system packages: ${need[*]} (run: sudo apt-get install ${need[*]})" >&2
    exit 2
  fi
fi

python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e '.[test]'
# Bytecode for the package, as pip writes for a regular install: an editable install would compile it
# from source on every run where PYTHONDONTWRITEBYTECODE is set (about 30 ms per xodiag command).
.venv/bin/python -m compileall -q xodiag
.venv/bin/ruff check --quiet .
# The compiled parse lane must have built here (tests/test_fastlane.py checks), so both paths are compared.
export XODIAG_REQUIRE_FASTLANE=1
exec .venv/bin/python -m pytest -q "$@"
