#!/usr/bin/env bash
# The quixstreams peer's own virtualenv (quixstreams pins an older confluent-kafka and
# pydantic than cutover's, so it cannot share .venv). Idempotent: reuses the venv when the
# pinned version is already installed.
#
#   bash bench/peer_quix/setup.sh            # -> .cache/quix-venv
#   QUIX_VENV=/some/where bash bench/peer_quix/setup.sh
set -euo pipefail

QUIXSTREAMS_VERSION="3.28.1"
PSYCOPG_VERSION="3.3.9"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
VENV="${QUIX_VENV:-$ROOT/.cache/quix-venv}"
PYTHON="${PYTHON:-python3}"

if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" - "$QUIXSTREAMS_VERSION" <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
sys.exit(0 if version("quixstreams") == sys.argv[1] else 1)
PY
then
    echo "$VENV: quixstreams $QUIXSTREAMS_VERSION already installed"
    exit 0
fi

"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet \
    "quixstreams==$QUIXSTREAMS_VERSION" "psycopg[binary]==$PSYCOPG_VERSION"
"$VENV/bin/python" -c "import quixstreams, psycopg; print('$VENV: quixstreams', quixstreams.__version__)"
