"""The shipped example plan (phases/examples/rehearsal-plan.yaml) is the rehearsal's
generated plan for the sample, committed: equal to a freshly generated one once the run's
names (topic prefix, connector, slot, group), endpoints, reports path and the contracts
directory's absolute path are normalised. Regenerate it with
``.venv/bin/python -m tests.unit.phases.test_example_plan``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from phases.plan import load_plan
from rehearsal.sample import SAMPLE_CONTRACTS, SampleSystem
from rehearsal.system import RunNames

EXAMPLE = Path(__file__).resolve().parents[3] / "phases" / "examples" / "rehearsal-plan.yaml"
HEADER = """\
# The rehearsal's plan for the sample monolith (legacy_app), committed: what
# `cutover rehearse` writes to its run directory as plan.yaml, with the run's names
# normalised (tests/unit/phases/test_example_plan.py keeps the two equal). It runs:
# `cutover plan validate --online` accepts it against the sample's database
# (LEGACY_DATABASE_URL). Secrets are environment variable names only; the connector's
# password is a reference the Kafka Connect worker resolves (docs/connectors.md).
"""
NORMALISED = RunNames(
    prefix="outbox.event",
    connector_name="cutover-outbox",
    slot_name="cutover_outbox",
    consumer_group="cutover.shadow",
    bootstrap_servers="localhost:9092",
    connect_url="http://localhost:8083",
    reports_dir="reports/cutover",
)


def generated() -> dict[str, Any]:
    """The rehearsal's plan with the normalised names, its contracts directory relative to
    the example's directory."""
    data = SampleSystem().plan_document(NORMALISED)
    contracts = Path(data["contracts"]["dir"]).resolve()
    relative = Path("../..") / contracts.relative_to(EXAMPLE.parents[2])
    data["contracts"] = {**data["contracts"], "dir": str(relative)}
    return data


def write_example() -> None:
    """Write the example from the generator (run after the rehearsal's template changes)."""
    EXAMPLE.write_text(HEADER + yaml.safe_dump(generated(), sort_keys=False))


def test_the_example_is_the_rehearsals_generated_plan() -> None:
    assert yaml.safe_load(EXAMPLE.read_text()) == generated()


def test_the_examples_contracts_are_the_samples() -> None:
    directory = load_plan(EXAMPLE).contracts_dir()
    assert directory is not None and directory.resolve() == SAMPLE_CONTRACTS.resolve()


if __name__ == "__main__":
    write_example()
