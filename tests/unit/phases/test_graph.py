from __future__ import annotations

from typing import Any

import pytest

from cutover_common.modes import Mode
from phases.errors import GraphError, TransitionRefused
from phases.graph import MachineState, Step, StepGraph, modes_for, plan_advance, plan_rollback
from phases.steps import default_graph

CONTEXTS = ["email", "payment", "order"]


def step(rev: int, down: int) -> Step[Any]:
    return Step(
        rev,
        down,
        f"s{rev}",
        f"g{rev}",
        lambda c, xs: None,
        lambda c, xs: None,
        lambda c, xs: [],
        lambda c, xs: None,
    )


def state(phase: int, migrated: tuple[str, ...] = ()) -> MachineState:
    return MachineState(phase, modes_for(phase, CONTEXTS, migrated))


def test_graph_from_lambdas_is_a_chain_with_a_head() -> None:
    graph = StepGraph([step(2, 1), step(1, 0), step(3, 2)])
    assert graph.head == 3
    assert [s.revision for s in graph.upgrade_path(0, 3)] == [1, 2, 3]
    assert [s.revision for s in graph.downgrade_path(3, 1)] == [3, 2]


@pytest.mark.parametrize(
    ("steps", "reason"),
    [
        ([step(1, 0), step(1, 0)], "duplicate revision"),
        ([step(1, 0), step(2, 0)], "multiple heads"),
        ([step(1, 0), step(3, 2)], "does not follow"),
        ([], "no steps"),
    ],
)
def test_graph_rejects_forks_gaps_duplicates(steps: list[Step[Any]], reason: str) -> None:
    with pytest.raises(GraphError, match=reason):
        StepGraph(steps)


def test_default_graph_has_the_five_phases() -> None:
    graph = default_graph()
    assert graph.head == 5
    assert [s.name for s in graph] == ["identify", "broker", "dual_write", "async", "remove_sync"]


@pytest.mark.parametrize("phase", [0, 1, 2])
def test_advance_one_phase_gates_on_the_previous_phase(phase: int) -> None:
    plan = plan_advance(state(phase), 5)
    assert (plan.from_phase, plan.to_phase) == (phase, phase + 1)
    (move,) = plan.moves
    assert move.revision == phase + 1
    assert move.gate_revision == (phase if phase else None)


def test_advance_from_3_moves_every_context_to_async_after_gate_3() -> None:
    plan = plan_advance(state(3), 5)
    (move,) = plan.moves
    assert (move.revision, move.gate_revision, move.contexts) == (4, 3, tuple(CONTEXTS))
    assert set(plan.modes_after.values()) == {Mode.ASYNC}


def test_advance_to_several_phases_runs_each_step() -> None:
    plan = plan_advance(state(0), 5, target=3)
    assert [(m.revision, m.gate_revision) for m in plan.moves] == [(1, None), (2, 1), (3, 2)]
    assert set(plan.modes_after.values()) == {Mode.DUAL}


def test_advance_context_from_3_moves_only_that_context() -> None:
    plan = plan_advance(state(3), 5, context="payment")
    (move,) = plan.moves
    assert (move.revision, move.contexts, move.gate_revision) == (4, ("payment",), 3)
    assert plan.modes_after == {"email": Mode.DUAL, "payment": Mode.ASYNC, "order": Mode.DUAL}


def test_advance_context_in_4_adds_to_the_migrated() -> None:
    plan = plan_advance(state(4, ("email",)), 5, context="order")
    assert plan.modes_after["email"] == Mode.ASYNC
    assert plan.modes_after["order"] == Mode.ASYNC
    assert plan.modes_after["payment"] == Mode.DUAL


def test_advance_4_to_5_needs_every_context_async_and_gates_on_4() -> None:
    plan = plan_advance(state(4, tuple(CONTEXTS)), 5)
    (move,) = plan.moves
    assert (move.revision, move.gate_revision) == (5, 4)
    assert set(plan.modes_after.values()) == {Mode.EVENTS_ONLY}


@pytest.mark.parametrize(
    ("st", "kwargs", "reason"),
    [
        (state(5), {}, "last phase"),
        (state(2), {"target": 2}, "not ahead"),
        (state(2), {"target": 1}, "not ahead"),
        (state(1), {"target": 6}, "no phase 6"),
        (state(4, ("email",)), {}, "still in dual: payment, order"),
        (state(2), {"context": "payment"}, "from phase 3 or 4"),
        (state(3), {"context": "payment", "target": 5}, "phase 4"),
        (state(4, ("payment",)), {"context": "payment"}, "already async"),
        (state(5), {"context": "payment"}, "from phase 3 or 4"),
    ],
)
def test_refused_advances(st: MachineState, kwargs: dict[str, Any], reason: str) -> None:
    with pytest.raises(TransitionRefused, match=reason):
        plan_advance(st, 5, **kwargs)


@pytest.mark.parametrize("phase", [1, 2, 3, 4, 5])
def test_rollback_from_each_phase_goes_one_down(phase: int) -> None:
    st = state(phase, tuple(CONTEXTS) if phase == 4 else ())
    plan = plan_rollback(st)
    (move,) = plan.moves
    assert (move.revision, move.direction, plan.to_phase) == (phase, "down", phase - 1)
    assert plan.modes_after == modes_for(phase - 1, CONTEXTS)


def test_rollback_to_0_from_5_runs_every_backward_step() -> None:
    plan = plan_rollback(state(5), target=0)
    assert [m.revision for m in plan.moves] == [5, 4, 3, 2, 1]
    assert set(plan.modes_after.values()) == {Mode.SYNC}


def test_rollback_from_4_only_reverts_async_contexts() -> None:
    plan = plan_rollback(state(4, ("email",)))
    assert plan.moves[0].contexts == ("email",)


def test_rollback_one_context_keeps_phase_4_while_others_are_async() -> None:
    plan = plan_rollback(state(4, ("email", "order")), context="email")
    assert plan.to_phase == 4
    assert plan.modes_after["email"] == Mode.DUAL
    assert plan.modes_after["order"] == Mode.ASYNC


def test_rollback_last_async_context_returns_to_phase_3() -> None:
    plan = plan_rollback(state(4, ("email",)), context="email")
    assert plan.to_phase == 3


@pytest.mark.parametrize(
    ("st", "kwargs", "reason"),
    [
        (state(0), {}, "nothing to roll back"),
        (state(2), {"target": 2}, "below the current phase"),
        (state(2), {"target": 3}, "below the current phase"),
        (state(3), {"context": "email"}, "not async in phase 4"),
        (state(4, ("order",)), {"context": "email"}, "not async in phase 4"),
    ],
)
def test_refused_rollbacks(st: MachineState, kwargs: dict[str, Any], reason: str) -> None:
    with pytest.raises(TransitionRefused, match=reason):
        plan_rollback(st, **kwargs)


@pytest.mark.parametrize(
    ("phase", "expected"),
    [(0, Mode.SYNC), (1, Mode.SYNC), (2, Mode.SYNC), (3, Mode.DUAL), (5, Mode.EVENTS_ONLY)],
)
def test_modes_for_each_phase(phase: int, expected: Mode) -> None:
    assert set(modes_for(phase, CONTEXTS).values()) == {expected}


def test_transition_plan_round_trips_through_json() -> None:
    from phases.runner import plan_from_dict

    plan = plan_advance(state(3), 5, context="payment")
    assert plan_from_dict(plan.to_dict()) == plan
