from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from cutover_common.modes import Mode
from phases.errors import (
    NothingToResume,
    StepFailed,
    TransitionInterrupted,
    TransitionLocked,
    TransitionRefused,
    UnknownContext,
)
from phases.evidence import sha256_file
from phases.fakes import FakeComparison, FakeConnectorAdmin, FakeShadow, fake_ports
from phases.plan import Plan
from phases.ports import ComparisonSummary, LagSnapshot, Ports
from phases.runner import Runner
from phases.store import SqlModeStore, StateStore

Make = Callable[..., Runner]


def modes(runner: Runner) -> set[Mode]:
    return set(runner.state().modes.values())


def to_phase_4_all(runner: Runner) -> None:
    runner.advance(target=3)
    for c in runner.plan.context_names():
        runner.advance(context=c)


def test_full_advance_0_to_5_sets_modes_and_audits(runner: Runner, store: StateStore) -> None:
    outcome = runner.advance(target=3)
    assert (outcome.status, outcome.phase) == ("done", 3)
    assert modes(runner) == {Mode.DUAL}
    to_4 = runner.advance()
    assert to_4.phase == 4 and modes(runner) == {Mode.ASYNC}
    to_5 = runner.advance()
    assert (to_5.status, to_5.phase, to_5.exit_code) == ("done", 5, 0)
    assert modes(runner) == {Mode.EVENTS_ONLY}
    advances = [(e.from_phase, e.to_phase) for e in store.history(100, action="advance")]
    assert advances == [(4, 5), (3, 4), (2, 3), (1, 2), (0, 1)]
    assert store.journal() is None


def test_advance_past_5_is_refused(runner: Runner) -> None:
    to_phase_4_all(runner)
    runner.advance()
    with pytest.raises(TransitionRefused, match="last phase"):
        runner.advance()


def test_audit_row_links_the_gate_evidence_by_path_and_sha256(
    runner: Runner, store: StateStore
) -> None:
    runner.advance(target=3)
    row = store.history(1, action="advance")[0]
    assert (row.from_phase, row.to_phase, row.verdict) == (2, 3, "pass")
    assert row.evidence_path is not None and row.evidence_sha256 is not None
    assert sha256_file(Path(row.evidence_path)) == row.evidence_sha256
    doc = json.loads(Path(row.evidence_path).read_text())
    assert doc["gate"] == "broker" and doc["plan_digest"] == runner.plan.digest()
    assert doc["snapshots"]["connector"]["state"] == "RUNNING"
    folder = Path(row.evidence_path).parent
    assert (folder / "evidence.html").read_text().count("connector_running") == 1
    assert "testsuite" in (folder / "junit.xml").read_text()


def test_audit_table_is_append_only(runner: Runner, store: StateStore) -> None:
    runner.advance()
    with pytest.raises(DatabaseError, match="append-only"), store.engine.begin() as conn:
        conn.execute(text("UPDATE audit SET actor = 'mallory'"))
    with pytest.raises(DatabaseError, match="append-only"), store.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit"))
    assert store.history()[0].actor == "alice@test"


def test_dry_run_changes_nothing(runner: Runner, store: StateStore) -> None:
    outcome = runner.advance(target=2, dry_run=True)
    assert outcome.status == "dry-run"
    assert [m.revision for m in outcome.plan.moves] == [1, 2]  # type: ignore[union-attr]
    assert store.phase() == 0 and store.history() == []
    assert runner.ctx.ports.connector.applied is False  # type: ignore[attr-defined]


def test_unknown_context_is_rejected(runner: Runner) -> None:
    with pytest.raises(UnknownContext, match="billing"):
        runner.advance(context="billing")


def test_dual_write_gate_outcome_fail_auto_reverts_to_phase_2(
    runner: Runner, ports: Ports, store: StateStore
) -> None:
    runner.advance(target=3)
    comparison: FakeComparison = ports.comparison  # type: ignore[assignment]
    comparison.summaries[("payment", "event")] = ComparisonSummary("payment", "fail", 5000, 4000)
    outcome = runner.advance()
    assert (outcome.status, outcome.exit_code, outcome.phase) == ("reverted", 4, 2)
    assert modes(runner) == {Mode.SYNC}
    assert "payment: comparison_verdict: comparator says fail" in outcome.gate.reasons  # type: ignore[union-attr]
    revert = store.history(1, action="auto-revert")[0]
    assert (revert.from_phase, revert.to_phase) == (3, 2)


def test_dual_write_gate_infrastructure_fail_pauses_without_revert(
    runner: Runner, ports: Ports, store: StateStore
) -> None:
    runner.advance(target=3)
    ports.lag.per_context["payment"] = LagSnapshot("g", 10, 50.0, dead_lettered=3, members=1)  # type: ignore[attr-defined]
    outcome = runner.advance()
    assert (outcome.status, outcome.exit_code, outcome.phase) == ("paused", 4, 3)
    assert modes(runner) == {Mode.DUAL}
    assert "payment: dead_lettered: 3 dead-lettered" in outcome.gate.reasons  # type: ignore[union-attr]
    assert store.history(1, action="auto-revert") == []


def test_gate_fail_pauses_when_auto_revert_is_off(
    make_runner: Make, plan: Plan, ports: Ports
) -> None:
    runner = make_runner(pl=plan.model_copy(update={"auto_revert": False}))
    runner.advance(target=3)
    ports.schemas.incompatible["email"] = "unknown type email.bounced"  # type: ignore[attr-defined]
    outcome = runner.advance()
    assert (outcome.status, outcome.exit_code, outcome.phase) == ("paused", 4, 3)
    assert modes(runner) == {Mode.DUAL}


def test_warn_pauses_with_exit_3(runner: Runner, ports: Ports) -> None:
    runner.advance(target=3)
    comparison: FakeComparison = ports.comparison  # type: ignore[assignment]
    comparison.summaries[("order", "event")] = ComparisonSummary("order", "pass", 10_000, 9_950)
    outcome = runner.advance()
    assert (outcome.status, outcome.exit_code, outcome.phase) == ("paused", 3, 3)


def test_low_confidence_pauses_with_exit_5(runner: Runner, ports: Ports) -> None:
    runner.advance(target=3)
    ports.comparison.keys = 12  # type: ignore[attr-defined]
    outcome = runner.advance(context="payment")
    assert (outcome.status, outcome.exit_code, outcome.phase) == ("paused", 5, 3)
    assert runner.state().modes["payment"] == Mode.DUAL


def test_failed_canary_undoes_the_broker_step(
    runner: Runner, ports: Ports, store: StateStore
) -> None:
    runner.advance()
    ports.canary.result = ports.canary.result.__class__(False, None, "lost")  # type: ignore[attr-defined]
    with pytest.raises(StepFailed, match="canary"):
        runner.advance()
    assert store.phase() == 1
    assert ports.connector.applied is False  # type: ignore[attr-defined]
    assert store.journal() is None
    assert store.history(1)[0].action == "failed"


def test_connector_without_tasks_fails_gate_2_and_pauses_in_2(runner: Runner, ports: Ports) -> None:
    runner.advance(target=2)
    ports.health.snap = ports.health.snap.__class__("cutover-outbox", "RUNNING")  # type: ignore[attr-defined]
    outcome = runner.advance()  # gate 2 fails on infrastructure: pause, never revert
    assert (outcome.status, outcome.exit_code, outcome.phase) == ("paused", 4, 2)


@pytest.mark.parametrize("start", [1, 2, 3, 4, 5])
def test_rollback_from_each_phase(runner: Runner, store: StateStore, start: int) -> None:
    if start >= 4:
        to_phase_4_all(runner)
        if start == 5:
            runner.advance()
    else:
        runner.advance(target=start)
    outcome = runner.rollback()
    assert outcome.phase == start - 1
    expected = {0: Mode.SYNC, 1: Mode.SYNC, 2: Mode.SYNC, 3: Mode.DUAL, 4: Mode.ASYNC}[start - 1]
    assert modes(runner) == {expected}
    assert store.history(1)[0].action == "rollback"


def test_rollback_to_0_deletes_the_connector(runner: Runner, ports: Ports) -> None:
    runner.advance(target=3)
    assert ports.connector.applied is True  # type: ignore[attr-defined]
    assert runner.rollback(target=0).phase == 0
    assert ports.connector.applied is False  # type: ignore[attr-defined]
    assert ports.shadow.running == set()  # type: ignore[attr-defined]


def test_phase_4_context_by_context_with_rollback_drill(
    runner: Runner, ports: Ports, store: StateStore
) -> None:
    runner.advance(target=3)
    runner.advance(context="payment")
    assert runner.state().modes["payment"] == Mode.ASYNC
    assert runner.state().modes["order"] == Mode.DUAL
    outcome = runner.check_gate(context="payment")
    assert outcome.gate is not None and outcome.gate.gate == "async"
    assert outcome.exit_code == 0
    drill = store.history(1, action="drill")[0]
    assert (drill.contexts, drill.verdict) == (("payment",), "pass")
    writes = [(c, m) for c, m, _ in ports.modes.writes if c == "payment"]  # type: ignore[attr-defined]
    assert writes[-3:] == [("payment", Mode.ASYNC), ("payment", Mode.DUAL), ("payment", Mode.ASYNC)]
    assert ("payment", "verify") in ports.comparison.calls  # type: ignore[attr-defined]


def test_failed_drill_reverts_only_that_context(runner: Runner, ports: Ports) -> None:
    runner.advance(target=3)
    runner.advance(context="payment")
    runner.advance(context="email")
    ports.comparison.summaries[("payment", "event")] = ComparisonSummary(  # type: ignore[attr-defined]
        "payment", "fail", 5000, 4000
    )
    outcome = runner.check_gate()
    assert outcome.status == "reverted" and outcome.exit_code == 4
    assert runner.state().modes["payment"] == Mode.DUAL
    assert runner.state().modes["email"] == Mode.ASYNC
    assert outcome.phase == 4


def test_passed_drill_is_not_repeated_until_the_context_moves(runner: Runner, ports: Ports) -> None:
    runner.advance(target=3)
    runner.advance(context="email")
    runner.check_gate(context="email")
    runner.check_gate(context="email")
    event_calls = [c for c in ports.comparison.calls if c == ("email", "event")]  # type: ignore[attr-defined]
    assert len(event_calls) == 2  # gate 3 before moving + one drill


def test_phase_5_gate_fails_on_a_sync_call_and_reverts_to_async(
    runner: Runner, ports: Ports
) -> None:
    to_phase_4_all(runner)
    runner.advance()
    ports.sync_calls.counts["payment"] = 1  # type: ignore[attr-defined]
    outcome = runner.check_gate()
    assert outcome.status == "reverted" and outcome.phase == 4
    assert modes(runner) == {Mode.ASYNC}
    doc = json.loads(Path(outcome.evidence.path).read_text())  # type: ignore[union-attr]
    assert doc["snapshots"]["final_reconciliation"]["payment"]["sync_calls"] == 1


def test_phase_5_gate_with_broken_invariant_fails(runner: Runner, ports: Ports) -> None:
    to_phase_4_all(runner)
    runner.advance()
    captured_once = "legacy_app.invariants:payment_captured_once"  # as the sample plan names it
    ports.invariants.broken[captured_once] = 2  # type: ignore[attr-defined]
    outcome = runner.check_gate(context="payment")
    assert outcome.gate is not None
    assert f"payment: invariant:{captured_once}: " in outcome.gate.reasons


class Crash(BaseException):
    """Stands for the process dying (not an Exception: nothing cleans up)."""


def test_crash_mid_transition_is_detected_and_resumable(
    make_runner: Make, store: StateStore
) -> None:
    ports = fake_ports()
    runner = make_runner(p=ports)
    runner.advance(target=2)
    shadow: FakeShadow = ports.shadow  # type: ignore[assignment]
    original = shadow.start

    def crash(contexts: Sequence[str]) -> None:
        raise Crash()

    shadow.start = crash  # type: ignore[method-assign]
    with pytest.raises(Crash):
        runner.advance()
    journal = store.journal()
    assert journal is not None and (journal.from_phase, journal.to_phase) == (2, 3)
    assert journal.stage == "forward:3"
    assert store.phase() == 2
    shadow.start = original  # type: ignore[method-assign]
    other = make_runner(actor="bob@test", p=ports)
    with pytest.raises(TransitionInterrupted, match="stopped at stage 'forward:3'"):
        other.advance()
    outcome = other.advance(resume=True)
    assert (outcome.status, outcome.phase) == ("done", 3)
    assert store.journal() is None
    assert modes(other) == {Mode.DUAL}
    last = store.history(1, action="advance")[0]
    assert (last.from_phase, last.to_phase, last.actor) == (2, 3, "bob@test")
    gate_row = store.history(1, action="gate")[0]
    assert (last.verdict, last.evidence_sha256) == ("pass", gate_row.evidence_sha256)
    assert last.detail == {"gate": 2, "step": "dual_write", "resumed": True}


def test_resume_without_interrupted_transition_is_refused(runner: Runner) -> None:
    with pytest.raises(NothingToResume):
        runner.advance(resume=True)


def test_rollback_after_a_crash_abandons_the_advance(make_runner: Make, store: StateStore) -> None:
    ports = fake_ports()
    runner = make_runner(p=ports)
    runner.advance(target=2)

    def crash(contexts: Sequence[str]) -> None:
        raise Crash()

    ports.shadow.start = crash  # type: ignore[method-assign]
    with pytest.raises(Crash):
        runner.advance()
    outcome = runner.rollback()
    assert outcome.phase == 1 and store.journal() is None


def test_two_concurrent_advances_one_wins_one_is_locked(
    make_runner: Make, store: StateStore
) -> None:
    ports = fake_ports()
    first = make_runner(actor="alice@test", p=ports)
    second = make_runner(actor="bob@test", p=ports)
    first.advance(target=2)
    inside, release = threading.Event(), threading.Event()
    connector: FakeConnectorAdmin = ports.connector  # type: ignore[assignment]
    shadow: FakeShadow = ports.shadow  # type: ignore[assignment]
    original = shadow.start

    def slow_start(contexts: Sequence[str]) -> None:
        inside.set()
        assert release.wait(10)
        original(contexts)

    shadow.start = slow_start  # type: ignore[method-assign]
    results: dict[str, Any] = {}

    def run_first() -> None:
        results["first"] = first.advance()

    thread = threading.Thread(target=run_first)
    thread.start()
    assert inside.wait(10)
    with pytest.raises(TransitionLocked) as info:
        second.advance()
    assert info.value.holder == "alice@test"
    release.set()
    thread.join(10)
    assert results["first"].phase == 3
    assert [e.to_phase for e in store.history(10, action="advance")] == [3, 2, 1]
    assert connector.applied is True


def test_expired_lock_row_is_taken_over(store: StateStore) -> None:
    from datetime import UTC, datetime, timedelta

    from sqlalchemy.orm import Session

    from phases.schema import LockRow

    with Session(store.engine) as s, s.begin():
        past = datetime.now(UTC) - timedelta(hours=2)
        s.add(LockRow(name="transition", owner="ghost#1", acquired_at=past, expires_at=past))
    with store.transition_lock("alice"):
        assert store.phase() == 0
    with Session(store.engine) as s:
        assert s.get(LockRow, "transition") is None


def test_sql_mode_store_writes_the_shared_modes_table(make_runner: Make, store: StateStore) -> None:
    sql_modes = SqlModeStore(store.engine)
    runner = make_runner(p=fake_ports(sql_modes))  # type: ignore[arg-type]
    runner.advance(target=3)
    with store.engine.connect() as conn:
        rows = dict(conn.execute(text("SELECT context, mode FROM context_modes")).all())
    assert rows == {c: "dual" for c in runner.plan.contexts}
    with store.engine.connect() as conn:
        who = conn.execute(text("SELECT DISTINCT updated_by FROM context_modes")).scalar()
    assert who == "alice@test"


def test_gate_check_before_phase_1_is_refused(runner: Runner) -> None:
    with pytest.raises(TransitionRefused):
        runner.check_gate()


def test_gate_check_at_phase_3_for_one_context(runner: Runner, ports: Ports) -> None:
    runner.advance(target=3)
    outcome = runner.check_gate(context="email")
    assert outcome.gate is not None and outcome.gate.contexts == ("email",)
    assert {c.context for c in outcome.gate.checks} == {"email", None}  # None: the connector
    assert outcome.status == "done"


def test_precheck_refuses_async_for_a_context_not_in_dual(
    runner: Runner, ports: Ports, store: StateStore
) -> None:
    runner.advance(target=3)
    ports.modes.set_modes({"payment": Mode.SYNC}, actor="someone")
    with pytest.raises(StepFailed, match="context payment is sync, not dual"):
        runner.advance(context="payment")
    assert store.phase() == 3 and store.journal() is None
    assert store.history(1)[0].action == "failed"


def test_dual_write_gate_carries_the_connector_snapshot_and_fails_on_a_failed_task(
    runner: Runner, ports: Ports
) -> None:
    from phases.ports import ConnectorSnapshot, TaskState

    runner.advance(target=3)
    ports.health.snap = ConnectorSnapshot(  # type: ignore[attr-defined]
        "cutover-outbox", "RUNNING", (TaskState(0, "FAILED"),), True, 100.0
    )
    outcome = runner.check_gate(context="payment")
    assert outcome.gate is not None and outcome.gate.verdict.value == "fail"
    doc = json.loads(Path(outcome.evidence.path).read_text())  # type: ignore[union-attr]
    assert doc["snapshots"]["connector"]["tasks"] == [{"id": 0, "state": "FAILED"}]
    assert (outcome.status, outcome.phase) == ("paused", 3)
