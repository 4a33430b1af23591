"""What follows a gate's verdict (revert only on outcome evidence, pause on the rest), probes
that raise, the lag snapshot read from a pipeline position, outcome-query failures."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from comparators.errors import SourceError
from comparators.position import PartitionPosition, PipelinePosition
from cutover_common.modes import Mode
from phases.adapters_comparators import query_failure
from phases.adapters_kafka import lag_snapshot
from phases.errors import AdapterUnavailable
from phases.fakes import FakeComparison, FakeHealthProbe, FakeLag
from phases.plan import Plan
from phases.ports import ComparisonSummary, LagSnapshot, Ports
from phases.runner import Runner
from phases.store import StateStore

Make = Callable[..., Runner]
T0 = datetime(2026, 12, 6, 7, 0, tzinfo=UTC)


class ConnectFrozen(Exception):
    pass


def test_connect_unreachable_pauses_inconclusive_and_evaluates_every_other_check(
    runner: Runner, ports: Ports, store: StateStore
) -> None:
    runner.advance(target=3)
    health: FakeHealthProbe = ports.health  # type: ignore[assignment]
    health.raises = ConnectFrozen("read timed out after 3s")
    outcome = runner.check_gate()
    assert outcome.gate is not None
    assert (outcome.status, outcome.exit_code, outcome.phase) == ("paused", 6, 3)
    assert outcome.gate.verdict.value == "inconclusive"
    unknown = {c.name for c in outcome.gate.checks if c.verdict.value == "unknown"}
    assert unknown == {"connector_running", "tasks_running", "slot_active", "heartbeat_fresh"}
    compared = {c.context for c in outcome.gate.checks if c.name == "comparison_match_rate"}
    assert compared == set(runner.plan.contexts)
    assert {m for m in runner.state().modes.values()} == {Mode.DUAL}
    assert store.history(5, action="auto-revert") == []
    doc = json.loads(Path(outcome.evidence.path).read_text())  # type: ignore[union-attr]
    assert doc["snapshots"]["connector"]["reason"] == "ConnectFrozen: read timed out after 3s"
    assert outcome.to_dict()["paused_because"].startswith("inconclusive, not measured: ")


def test_no_live_consumers_in_phase_3_fails_and_pauses_without_revert(
    runner: Runner, ports: Ports, store: StateStore
) -> None:
    runner.advance(target=3)
    lag: FakeLag = ports.lag  # type: ignore[assignment]
    lag.per_context["order"] = LagSnapshot("cutover.shadow", 0, 0.0, 0, members=0)
    outcome = runner.advance()
    assert (outcome.status, outcome.exit_code, outcome.phase) == ("paused", 4, 3)
    assert "order: consumers_live: no live consumers in group cutover.shadow" in (
        outcome.gate.reasons  # type: ignore[union-attr]
    )
    assert store.history(5, action="auto-revert") == []


def test_every_gate_from_phase_3_on_checks_live_consumers(runner: Runner) -> None:
    for phase in (3, 4, 5):
        runner.advance(target=phase)
        gate = runner.check_gate().gate
        assert gate is not None and gate.phase == phase
        live = {c.context for c in gate.checks if c.name == "consumers_live"}
        assert live == set(runner.plan.contexts), phase


def test_a_lag_probe_that_raises_does_not_abort_the_gate(runner: Runner, ports: Ports) -> None:
    runner.advance(target=3)
    lag: FakeLag = ports.lag  # type: ignore[assignment]
    lag.raises = SourceError("kafka", "cannot read outbox.event.order: timed out")
    outcome = runner.check_gate(context="order")
    assert outcome.gate is not None and outcome.gate.verdict.value == "inconclusive"
    checks = {c.name: c for c in outcome.gate.checks}
    assert checks["consumers_live"].verdict.value == "unknown"
    assert checks["consumer_lag"].detail == (
        "kafka source failed: cannot read outbox.event.order: timed out"
    )
    assert checks["comparison_match_rate"].verdict.value == "pass"
    assert outcome.evidence is not None and Path(outcome.evidence.path).exists()


def test_a_failed_outcome_query_fails_with_exit_4_and_pauses(
    runner: Runner, ports: Ports, store: StateStore
) -> None:
    runner.advance(target=3)
    comparison: FakeComparison = ports.comparison  # type: ignore[assignment]
    message = 'sync outcome query failed: column "total" does not exist'
    comparison.summaries[("order", "event")] = ComparisonSummary.failed("order", message)
    outcome = runner.check_gate()
    assert (outcome.status, outcome.exit_code, outcome.phase) == ("paused", 4, 3)
    assert f"order: comparison_query: {message}" in outcome.gate.reasons  # type: ignore[union-attr]
    assert Path(outcome.evidence.path).exists()  # type: ignore[union-attr]
    assert store.history(5, action="auto-revert") == []


def test_too_many_keys_left_out_pause_inconclusive(runner: Runner, ports: Ports) -> None:
    runner.advance(target=3)
    comparison: FakeComparison = ports.comparison  # type: ignore[assignment]
    comparison.summaries[("order", "event")] = ComparisonSummary(
        "order", "pass", 5000, 5000, {"match": 5000, "out_of_scope": 311}
    )
    outcome = runner.advance()
    assert (outcome.status, outcome.exit_code, outcome.phase) == ("paused", 6, 3)
    assert outcome.to_dict()["paused_because"] == (
        "inconclusive, order: comparison_left_out: left out 311 of 5311 keys (out_of_scope 311)"
        " (no automatic revert)"
    )


def test_a_failed_reverse_comparison_reverts_its_context_to_dual(
    make_runner: Make, plan: Plan, ports: Ports
) -> None:
    runner = make_runner()
    runner.advance(target=3)
    runner.advance(context="order")
    comparison: FakeComparison = ports.comparison  # type: ignore[assignment]
    comparison.summaries[("order", "verify")] = ComparisonSummary("order", "fail", 5000, 4000)
    outcome = runner.check_gate()
    assert outcome.status == "reverted"
    assert runner.state().modes["order"] == Mode.DUAL
    assert runner.state().modes["payment"] == Mode.DUAL


# -- the lag snapshot of a pipeline position ------------------------------------------------
def position(*parts: PartitionPosition, members: int | None = 1) -> PipelinePosition:
    return PipelinePosition("outbox.event.order", "cutover.shadow", T0, parts, members)


def test_deleted_records_are_expired_not_lag() -> None:
    snap = lag_snapshot(
        position(PartitionPosition(0, 2, 5, 8, T0 - timedelta(seconds=3))), dead_lettered=0
    )
    assert (snap.lag_messages, snap.expired, snap.lag_ms) == (3, 3, 3000.0)
    assert snap.per_partition == {"0": 3}


def test_nothing_behind_is_zero_ms() -> None:
    snap = lag_snapshot(position(PartitionPosition(0, 8, 0, 8), members=2), dead_lettered=1)
    assert (snap.lag_messages, snap.lag_ms, snap.members, snap.dead_lettered) == (0, 0.0, 2, 1)


def test_a_behind_partition_without_a_timestamp_leaves_the_lag_age_unknown() -> None:
    snap = lag_snapshot(
        position(
            PartitionPosition(0, 0, 0, 4, T0 - timedelta(seconds=1)),
            PartitionPosition(1, 0, 0, 4, None),
        ),
        dead_lettered=0,
    )
    assert (snap.lag_messages, snap.lag_ms) == (8, None)


def test_a_group_that_never_committed_lags_from_the_log_start() -> None:
    snap = lag_snapshot(
        position(PartitionPosition(0, None, 10, 12, T0 - timedelta(milliseconds=250))),
        dead_lettered=0,
    )
    assert (snap.lag_messages, snap.expired, snap.lag_ms) == (2, 0, 250.0)


# -- outcome queries that fail ---------------------------------------------------------------
def test_an_undefined_column_is_the_databases_one_line_message() -> None:
    db = psycopg.errors.UndefinedColumn('column "total" does not exist\nLINE 1: SELECT total')
    try:
        raise SourceError("sync", "UndefinedColumn: ...") from db
    except SourceError as exc:
        assert query_failure(exc) == 'sync outcome query failed: column "total" does not exist'


def test_a_sqlalchemy_error_from_a_callable_source_is_translated() -> None:
    from sqlalchemy.exc import ProgrammingError

    db = psycopg.errors.UndefinedColumn("column orders.total does not exist\nLINE 1: ...")
    exc = ProgrammingError("SELECT orders.total FROM orders", {}, db)
    assert query_failure(exc) == "outcome query failed: column orders.total does not exist"


def test_an_unreachable_database_is_unavailable_not_a_failed_query() -> None:
    db = psycopg.OperationalError("connection failed: Connection refused")
    with pytest.raises(AdapterUnavailable, match="Connection refused"):
        try:
            raise SourceError("sync", "OperationalError: connection failed") from db
        except SourceError as exc:
            query_failure(exc)


def test_anything_else_propagates_to_the_gate_boundary() -> None:
    with pytest.raises(KeyError):
        query_failure(KeyError("bug"))


def test_entering_dual_write_with_connect_unreadable_is_refused_with_the_reason(
    runner: Runner, ports: Ports
) -> None:
    from phases.steps import phase3_dual_write

    health: FakeHealthProbe = ports.health  # type: ignore[assignment]
    health.raises = ConnectFrozen("read timed out after 3s")
    assert phase3_dual_write.precheck(runner.ctx, ["order"]) == [
        "connector state could not be read (ConnectFrozen: read timed out after 3s); "
        "events may not flow"
    ]


def test_a_gate_2_with_connect_unreadable_pauses_before_dual_write(
    runner: Runner, ports: Ports
) -> None:
    runner.advance(target=2)
    health: FakeHealthProbe = ports.health  # type: ignore[assignment]
    health.raises = ConnectFrozen("read timed out after 3s")
    outcome = runner.advance()
    assert (outcome.status, outcome.exit_code, outcome.phase) == ("paused", 6, 2)
