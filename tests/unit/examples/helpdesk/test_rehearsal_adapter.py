"""The helpdesk's rehearsal adapter, without processes: its plan template and its traffic plan."""

from __future__ import annotations

from pathlib import Path

import yaml

from examples.helpdesk.rehearsal import SYSTEM, RunNames
from examples.helpdesk.traffic import plan_journeys
from phases.plan import parse_plan

PLAN = Path(__file__).resolve().parents[4] / "examples" / "helpdesk" / "plan.yaml"

NAMES = RunNames(
    prefix="rhabc", connector_name="rhabc-outbox", slot_name="rhabc_outbox",
    consumer_group="rhabc.shadow", bootstrap_servers="127.0.0.1:9092",
    connect_url="http://127.0.0.1:8083", reports_dir="/tmp/reports",
    ports={"helpdesk": 6100, "notifier": 6101, "search": 6102}, min_settled_keys=40,
)  # fmt: skip


def test_the_committed_plan_parses() -> None:
    plan = parse_plan(yaml.safe_load(PLAN.read_text()))
    assert sorted(plan.contexts) == ["notification", "search"]


def test_the_plan_template_takes_the_runs_names() -> None:
    plan = parse_plan(SYSTEM.plan_document(NAMES))
    assert plan.system.connect.connector_name == "rhabc-outbox"
    assert plan.system.connect.slot_name == "rhabc_outbox"
    assert {c: s.topic.name for c, s in plan.contexts.items()} == {
        "notification": "rhabc.notification",
        "search": "rhabc.ticket",
    }
    assert plan.contexts["search"].sync_endpoint == "http://127.0.0.1:6102/documents"
    assert plan.gates.dual_write.min_settled_keys == 40


def test_the_topics_are_the_plans() -> None:
    plan = SYSTEM.plan_document(NAMES)
    names = tuple(spec["topic"]["name"] for spec in plan["contexts"].values())
    assert sorted(SYSTEM.topics("rhabc")) == sorted(names)


def test_the_same_seed_plans_the_same_journeys() -> None:
    assert plan_journeys(7, 50) == plan_journeys(7, 50)
    assert plan_journeys(7, 50) != plan_journeys(8, 50)


def test_journeys_open_before_they_assign_or_resolve() -> None:
    for journey in plan_journeys(1, 200):
        assert journey.steps[0] in ("open", "malformed")
        assert list(journey.steps) in (
            ["malformed"], ["open"], ["open", "assign"], ["open", "resolve"],
            ["open", "assign", "resolve"],
        )  # fmt: skip
