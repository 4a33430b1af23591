"""The plan's ``outbox:`` block: defaults equal what exists today, renamed columns, bad names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from cdc.debezium import OutboxOptions
from cutover import Outbox
from legacy_app.models import OutboxEvent
from phases.errors import PlanInvalid
from phases.plan import OutboxSpec, parse_plan
from tests.unit.phases.conftest import SAMPLE


def sample(**outbox: Any) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(SAMPLE.read_text())
    if outbox:
        data["outbox"] = outbox
    return data


def test_a_plan_without_the_block_gets_the_default_outbox() -> None:
    plan = parse_plan(sample())
    assert plan.outbox == OutboxSpec()
    assert plan.outbox.layout().table == OutboxOptions().table == "public.outbox"


def test_defaults_are_the_columns_of_the_samples_outbox() -> None:
    spec = OutboxSpec()
    named = {column for _, column in spec.layout().columns.items()}
    assert named == {c.name for c in OutboxEvent.__table__.columns}


def test_renamed_columns_reach_the_layout_and_the_router() -> None:
    plan = parse_plan(
        sample(
            table="app.events", id="event_id", payload="body", aggregate_version="seq", mode=None
        )
    )
    layout = plan.outbox.layout()
    assert (layout.table, layout.columns.id, layout.columns.payload) == (
        "app.events",
        "event_id",
        "body",
    )
    assert layout.columns.mode is None
    opts = Outbox.from_spec(plan.outbox).connector_options("p")
    assert opts.placement.endswith("seq:header:aggregate_version")
    assert "mode" not in opts.header_fields


@pytest.mark.parametrize(
    ("block", "path", "message"),
    [
        ({"payload": "Body"}, "outbox.payload", "String should match pattern"),
        ({"table": "a.b.c"}, "outbox.table", "String should match pattern"),
        ({"event_type": "payload"}, "outbox", "outbox columns named twice: payload"),
        ({"colour": "red"}, "outbox.colour", "unknown field"),
    ],
)
def test_a_bad_block_names_its_field(block: dict[str, str], path: str, message: str) -> None:
    with pytest.raises(PlanInvalid) as info:
        parse_plan(sample(**block))
    issues = {i.path: i.message for i in info.value.issues}
    assert path in issues
    assert message in issues[path]


def test_outbox_from_plan_reads_the_file(tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(sample(table="app.ev", id="event_id")))
    outbox = Outbox.from_plan(path, mode=lambda: "dual")
    assert outbox.layout.table == "app.ev"
    assert outbox.layout.columns.id == "event_id"
    assert outbox.mode is not None and outbox.mode() == "dual"
