"""The rehearsal's plan names the sample's contracts directory, like a team's plan."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from phases.event_schemas import plan_contracts, schema_report
from phases.plan import load_plan
from rehearsal.environment import RehearsalEnvironment
from rehearsal.sample import SAMPLE_CONTRACTS
from rehearsal.scenario import load_scenario
from rehearsal.stack.topology import Topology


def test_the_rehearsal_plan_judges_events_against_the_sample_contracts(tmp_path: Path) -> None:
    env = RehearsalEnvironment(
        replace(Topology(), state_dir=tmp_path), load_scenario("default"), "c1"
    )
    env.run_dir.mkdir(parents=True)
    plan = load_plan(env.write_plan())
    record = (
        {"type": "order.completed"},
        json.dumps({"order_id": "o", "total": "5.00", "currency": "EUR"}).encode(),
    )
    assert plan.contracts_dir() == SAMPLE_CONTRACTS
    assert plan_contracts(plan).source == str(SAMPLE_CONTRACTS)
    assert schema_report(plan, "order", ["order.completed"], [record]).compatible is True
