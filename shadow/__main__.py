"""``python -m shadow ...`` — the ``cutover shadow`` group on its own (worker processes use it)."""

from __future__ import annotations

import sys

from cutover_common.cli import run_cli
from shadow.cli import shadow

if __name__ == "__main__":
    sys.exit(run_cli(shadow))
