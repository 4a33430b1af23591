#!/usr/bin/env bash
# reladiff's own virtualenv for bench/bench_reladiff.py (reladiff is a benchmark peer, not a
# dependency of cutover: it stays out of pyproject.toml and .venv). Idempotent: reuses the
# venv when the pinned version is already installed.
#
#   bash bench/peer_reladiff/setup.sh            # -> .cache/reladiff-venv
#   RELADIFF_VENV=/some/where bash bench/peer_reladiff/setup.sh
set -euo pipefail

RELADIFF_VERSION="0.6.0"
PSYCOPG2_VERSION="2.9.10"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
VENV="${RELADIFF_VENV:-$ROOT/.cache/reladiff-venv}"
PYTHON="${PYTHON:-python3}"

if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" - "$RELADIFF_VERSION" <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
sys.exit(0 if version("reladiff") == sys.argv[1] else 1)
PY
then
    echo "$VENV: reladiff $RELADIFF_VERSION already installed"
    exit 0
fi

"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet \
    "reladiff==$RELADIFF_VERSION" "psycopg2-binary==$PSYCOPG2_VERSION"
"$VENV/bin/python" -c "import reladiff, psycopg2; print('$VENV: reladiff', '$RELADIFF_VERSION')"
