"""Generate the sample's contracts directory from its Python contracts (msgspec structs).

    .venv/bin/python scripts/export_sample_contracts.py [DIR]   # default: legacy_app/contracts

The sample is migrated like any team's system: its contracts are a directory of
``<type>.v<N>.json`` JSON Schemas with an ``upcasters.toml`` (docs/contracts.md), named by
the rehearsal's plan. The schemas of the current versions are generated from the structs of
``legacy_app.contracts`` (:func:`cutover.contracts.schema_files`); older versions and
``upcasters.toml`` are committed files the script never rewrites.
``tests/unit/legacy_app/test_contracts.py`` fails when the structs and the directory drift
apart; run this script to bring it back (and review the diff: a change that breaks the data
of the current version needs a new version instead).
"""

from __future__ import annotations

import sys
from pathlib import Path

from cutover.contracts import schema_files
from legacy_app.contracts import CONTRACTS

DEFAULT_DIR = Path(__file__).resolve().parents[1] / "legacy_app" / "contracts"


def export(directory: Path) -> list[Path]:
    """Write the current version of every sample contract into ``directory``; the files
    written."""
    directory.mkdir(parents=True, exist_ok=True)
    existing = [p.name for p in directory.glob("*.json")]
    written = []
    for name, text in sorted(schema_files(CONTRACTS, existing).items()):
        (directory / name).write_text(text, encoding="utf-8")
        written.append(directory / name)
    return written


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_DIR
    for path in export(target):
        print(path)
