"""What the plan tells a comparison about scope: the modes each gate covers, the mode column
and the shadow group whose position tells pending from missing."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from comparators.commands import NO_PIPELINE, run_compare
from comparators.diff import ASYNC_MODES, DUAL_WRITE_MODES
from comparators.plan import CompareConfig
from comparators.position import PartitionPosition, PipelinePosition
from comparators.rules import CompareOptions
from comparators.sources import InMemorySource, SqlSource
from tests.support.plans import full_plan, load_config
from tests.unit.comparators.factories import LATER, T0, outcome

PLAN = """
system:
  database: {url_env: DB}
  kafka: {bootstrap_servers: "broker:9092", auth_env: KAFKA_AUTH}
contexts:
  order:
    topic: {name: shop.order}
    consumer_group: shadow.order
    outcome: {key: order_id, sync_query: SELECT 1, event_query: SELECT 2}
    compare: {mode_column: ctx_mode}
"""

ENV = {"DB": "postgresql://u:p@h/db", "KAFKA_AUTH": "user:s3cret"}


def _plan(tmp_path: Path, text: str = PLAN) -> Path:
    path = tmp_path / "plan.yaml"
    path.write_text(full_plan(text))
    return path


def test_the_dual_write_gate_covers_dual_and_naive_dual_and_reads_the_group(
    tmp_path: Path,
) -> None:
    config = load_config(_plan(tmp_path), "order", "dual_write", ENV, pipeline=True)
    assert config.modes == DUAL_WRITE_MODES == {"dual", "naive-dual"}
    assert config.pipeline is not None
    assert (config.pipeline.topic, config.pipeline.group) == ("shop.order", "shadow.order")
    assert config.pipeline.conf["sasl.username"] == "user"
    assert config.pipeline.heartbeat_topic == "cutover-outbox.public.debezium_heartbeat"
    assert "s3cret" not in repr(config.pipeline)


def test_the_async_gate_covers_async_and_reads_no_group(tmp_path: Path) -> None:
    config = load_config(_plan(tmp_path), "order", "async", ENV, pipeline=True)
    assert config.modes == ASYNC_MODES
    assert config.pipeline is None


def test_the_mode_column_reaches_the_sources_and_is_ignored(tmp_path: Path) -> None:
    config = load_config(_plan(tmp_path), "order", "dual_write", ENV)
    assert isinstance(config.control, SqlSource) and config.control.mode_column == "ctx_mode"
    assert config.options.mode_field == "ctx_mode" and "ctx_mode" in config.options.ignore


def test_without_a_consumer_group_the_position_is_the_default_shadow_groups(
    tmp_path: Path,
) -> None:
    no_group = PLAN.replace("    consumer_group: shadow.order\n", "")
    config = load_config(_plan(tmp_path, no_group), "order", "dual_write", ENV, pipeline=True)
    assert config.pipeline is not None and config.pipeline.group == "cutover.shadow"
    assert config.options.mode_field == "ctx_mode"


def _run_config(modes: frozenset[str] | None = DUAL_WRITE_MODES) -> CompareConfig:
    sync = [replace(outcome(i), extra={"write_mode": m}) for i, m in enumerate(MODES, 1)]
    event = [outcome(1, source="event")]
    return CompareConfig(
        context="order",
        control=InMemorySource(sync, name="sync", key="order_id"),
        candidate=InMemorySource(event, name="event", key="order_id"),
        options=CompareOptions(key="order_id"),
        modes=modes,
    )


MODES = ("dual", "dual", "sync", "dual")


def test_a_run_states_what_it_left_out_and_that_the_watermark_was_unmeasured() -> None:
    run = run_compare(_run_config(), now=LATER, stdout=io.StringIO(), as_json=True)
    assert run.evidence["counts"]["out_of_scope"] == 1
    assert run.evidence["counts"]["missing"] == 2
    assert run.evidence["left_out"] == {
        "pending": 0,
        "out_of_scope": 1,
        "inconclusive": 0,
        "total": 1,
        "share": 0.25,
    }
    assert run.evidence["pipeline"] == {
        "measured": False,
        "watermark": None,
        "reason": NO_PIPELINE,
    }
    assert run.position is None


def test_a_run_with_the_position_judges_keys_behind_it_pending() -> None:
    oldest_unread = T0 - timedelta(seconds=7)  # so the group has not reached keys 2 and 4
    position = PipelinePosition("t", "g", LATER, (PartitionPosition(0, 5, 0, 7, oldest_unread),))
    run = run_compare(
        _run_config(), now=LATER, stdout=io.StringIO(), as_json=True, position=position
    )
    counts = run.evidence["counts"]
    assert (counts["match"], counts["pending"], counts["missing"]) == (1, 2, 0)
    assert run.evidence["pipeline"]["measured"] is True
    assert run.evidence["pipeline"]["lag_messages"] == 2
