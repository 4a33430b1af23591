"""``cutover history`` shows every transition that did not simply run: refused ones,
interrupted ones (the journal stays for ``--resume``) and resumed ones."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from phases import commands
from phases.commands import CommandConfig
from phases.errors import (
    NothingToResume,
    TransitionInterrupted,
    TransitionLocked,
    TransitionRefused,
)
from phases.fakes import FakeShadow, fake_ports
from phases.ports import Ports
from phases.runner import Runner
from phases.store import AuditEntry, StateStore

Make = Callable[..., Runner]


class Crash(BaseException):
    """Stands for the process dying mid-transition."""


def _actions(store: StateStore) -> list[str]:
    return [e.action for e in reversed(store.history(100))]


def _last(store: StateStore, action: str) -> AuditEntry:
    rows = store.history(1, action=action)
    assert rows, f"no {action} row in {_actions(store)}"
    return rows[0]


def _crash_entering_dual(make_runner: Make, ports: Ports, exc: BaseException) -> Runner:
    runner = make_runner(p=ports)
    runner.advance(target=2)
    shadow: FakeShadow = ports.shadow  # type: ignore[assignment]
    original = shadow.start

    def crash(contexts: Sequence[str]) -> None:
        shadow.start = original  # type: ignore[method-assign]
        raise exc

    shadow.start = crash  # type: ignore[method-assign]
    with pytest.raises(type(exc)):
        runner.advance()
    return runner


def test_a_refused_advance_is_audited_with_its_reason(runner: Runner, store: StateStore) -> None:
    with pytest.raises(TransitionRefused):
        runner.advance(target=9)
    row = _last(store, "advance-refused")
    assert (row.from_phase, row.to_phase, row.actor) == (0, 9, "alice@test")
    assert row.detail == {
        "reason": "transition 0 -> 9 refused: there is no phase 9",
        "error": "TransitionRefused",
    }


def test_a_dry_run_refusal_writes_nothing(runner: Runner, store: StateStore) -> None:
    with pytest.raises(TransitionRefused):
        runner.advance(target=9, dry_run=True)
    assert _actions(store) == []


def test_a_refused_rollback_and_gate_check_are_audited(runner: Runner, store: StateStore) -> None:
    with pytest.raises(TransitionRefused):
        runner.rollback()
    with pytest.raises(TransitionRefused):
        runner.check_gate()
    assert _actions(store) == ["rollback-refused", "gate-check-refused"]
    assert _last(store, "gate-check-refused").detail["reason"] == (
        "transition 0 -> 0 refused: no gate before phase 1"
    )


def test_resume_with_nothing_to_resume_is_audited(runner: Runner, store: StateStore) -> None:
    with pytest.raises(NothingToResume):
        runner.advance(resume=True)
    assert _last(store, "advance-refused").detail["error"] == "NothingToResume"


def test_an_advance_refused_by_the_lock_is_audited(runner: Runner, store: StateStore) -> None:
    with store.transition_lock("bob@test"), pytest.raises(TransitionLocked):
        runner.advance()
    row = _last(store, "advance-refused")
    assert row.detail is not None and row.detail["error"] == "TransitionLocked"
    assert "another transition is running" in row.detail["reason"]


def test_ctrl_c_mid_transition_is_audited_as_interrupted(
    make_runner: Make, store: StateStore
) -> None:
    runner = _crash_entering_dual(make_runner, fake_ports(), KeyboardInterrupt())
    row = _last(store, "advance-interrupted")
    assert (row.from_phase, row.to_phase, row.actor) == (2, 3, "alice@test")
    assert row.contexts == tuple(sorted(runner.plan.context_names()))
    assert row.detail == {
        "stage": "forward:3",
        "done_moves": 0,
        "reason": "KeyboardInterrupt",
        "error": "KeyboardInterrupt",
    }
    assert store.journal() is not None  # still resumable


def test_a_new_advance_over_an_interrupted_one_is_refused_and_audited(
    make_runner: Make, store: StateStore
) -> None:
    ports = fake_ports()
    _crash_entering_dual(make_runner, ports, Crash())
    with pytest.raises(TransitionInterrupted):
        make_runner(actor="bob@test", p=ports).advance()
    row = _last(store, "advance-refused")
    assert (row.actor, row.detail is not None and row.detail["error"]) == (
        "bob@test",
        "TransitionInterrupted",
    )


def test_resume_is_audited_before_the_moves_it_finishes(
    make_runner: Make, store: StateStore
) -> None:
    ports = fake_ports()
    _crash_entering_dual(make_runner, ports, Crash())
    outcome = make_runner(actor="bob@test", p=ports).advance(resume=True)
    assert outcome.phase == 3
    assert _actions(store)[-3:] == ["advance-interrupted", "advance-resumed", "advance"]
    row = _last(store, "advance-resumed")
    assert (row.from_phase, row.to_phase, row.actor) == (2, 3, "bob@test")
    assert row.detail is not None
    assert (row.detail["stage"], row.detail["started_by"]) == ("forward:3", "alice@test")


def test_an_interrupted_rollback_is_resumed_by_the_next_rollback(
    make_runner: Make, store: StateStore
) -> None:
    ports = fake_ports()
    runner = make_runner(p=ports)
    runner.advance(target=3)
    shadow: FakeShadow = ports.shadow  # type: ignore[assignment]
    original = shadow.stop

    def crash(contexts: Sequence[str]) -> None:
        shadow.stop = original  # type: ignore[method-assign]
        raise Crash()

    shadow.stop = crash  # type: ignore[method-assign]
    with pytest.raises(Crash):
        runner.rollback()
    assert _last(store, "rollback-interrupted").detail["stage"] == "backward:3"  # type: ignore[index]
    assert runner.rollback().phase == 2
    assert _actions(store)[-3:] == ["rollback-interrupted", "rollback-resumed", "rollback"]


def test_history_command_lists_the_refusal(
    runner: Runner, store: StateStore, tmp_path: Path
) -> None:
    with pytest.raises(TransitionRefused):
        runner.advance(target=9)
    out = io.StringIO()
    config = CommandConfig(json=True, stdout=out)
    config.ports_factory = lambda _plan, _modes: runner.ctx.ports
    config.environ = {"LEGACY_DATABASE_URL": str(store.engine.url)}
    config.plan_path = Path(commands.__file__).parent / "examples" / "sample-plan.yaml"
    assert commands.history(config) == 0
    rows = json.loads(out.getvalue())
    assert [(r["action"], r["to"]) for r in rows] == [("advance-refused", 9)]


def test_history_table_shows_the_reason_of_a_refusal(runner: Runner, store: StateStore) -> None:
    with pytest.raises(TransitionRefused):
        runner.advance(target=9)
    out = io.StringIO()
    config = CommandConfig(stdout=out)
    config.ports_factory = lambda _plan, _modes: runner.ctx.ports
    config.environ = {"LEGACY_DATABASE_URL": str(store.engine.url)}
    config.plan_path = Path(commands.__file__).parent / "examples" / "sample-plan.yaml"
    assert commands.history(config) == 0
    text = " ".join(out.getvalue().split())
    assert "advance-refused" in text and "phase 9" in text
