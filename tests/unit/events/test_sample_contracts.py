"""The sample's contracts directory (legacy_app/contracts) is the packaged catalogue,
written out by scripts/export_sample_contracts.py; it loads as a registry."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from events.registry import ContractRegistry, catalog_contracts

ROOT = Path(__file__).resolve().parents[3]
SAMPLE_CONTRACTS = ROOT / "legacy_app" / "contracts"


def _texts(directory: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(directory.iterdir()) if p.is_file()}


def test_the_committed_directory_is_what_the_export_script_writes(tmp_path: Path) -> None:
    script = ROOT / "scripts" / "export_sample_contracts.py"
    subprocess.run([sys.executable, str(script), str(tmp_path)], check=True, capture_output=True)
    assert _texts(SAMPLE_CONTRACTS) == _texts(tmp_path)


def test_the_sample_directory_holds_every_packaged_type_and_version() -> None:
    registry = ContractRegistry.load(SAMPLE_CONTRACTS)
    packaged = catalog_contracts()
    assert {t: registry.versions(t) for t in registry.types} == {
        t: packaged.versions(t) for t in packaged.types
    }


def test_the_sample_directory_upcasts_like_the_catalogue() -> None:
    old = {"customer_id": "c", "full_name": "Ann", "email": "a@b.c"}
    registry = ContractRegistry.load(SAMPLE_CONTRACTS)
    assert registry.upcast("integration.customer.created", 1, old) == {
        "customer_id": "c",
        "name": "Ann",
        "email": "a@b.c",
    }
