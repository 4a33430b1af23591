"""The phase graph and transition planning. Pure: no database, no Kafka, no clock.

Like alembic's revision map, the five phases are versioned steps, each naming its
``down_revision``; :class:`StepGraph` checks they form one chain from the base (0,
nothing done) to the head (5). :func:`plan_advance` and :func:`plan_rollback` turn the
current :class:`MachineState` and a request into a :class:`TransitionPlan`, or refuse.

Gates are *exit* gates: entering phase ``r`` requires the gate of phase ``r - 1`` to pass
over the evidence gathered while in it. Phase 4 moves contexts one at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Generic, Literal, TypeVar

from cutover_common.modes import Mode
from phases.errors import GraphError, TransitionRefused

C = TypeVar("C")


class Phase(IntEnum):
    NOT_STARTED = 0
    IDENTIFY = 1
    BROKER = 2
    DUAL_WRITE = 3
    ASYNC = 4
    REMOVE_SYNC = 5


PER_CONTEXT_PHASE = Phase.ASYNC


@dataclass(frozen=True, slots=True)
class Step(Generic[C]):
    """One versioned phase: forward/backward actions, a pre-check and its (exit) gate.

    ``forward``/``backward`` receive the context object and the contexts they act on;
    ``precheck`` returns the problems that forbid entering; ``gate`` evaluates the phase.
    """

    revision: int
    down_revision: int
    name: str
    gate_name: str
    forward: Callable[[C, Sequence[str]], None]
    backward: Callable[[C, Sequence[str]], None]
    precheck: Callable[[C, Sequence[str]], list[str]]
    gate: Callable[[C, Sequence[str]], Any]


class StepGraph(Generic[C]):
    """The linear chain of steps, validated once."""

    def __init__(self, steps: Iterable[Step[C]]) -> None:
        ordered = sorted(steps, key=lambda s: s.revision)
        revs = [s.revision for s in ordered]
        if not ordered:
            raise GraphError(revs, "no steps")
        if len(set(revs)) != len(revs):
            raise GraphError(revs, "duplicate revision")
        downs = [s.down_revision for s in ordered]
        if len(set(downs)) != len(downs):
            raise GraphError(revs, "two steps share a down_revision (multiple heads)")
        previous = 0
        for step in ordered:
            if step.down_revision != previous or step.revision <= previous:
                raise GraphError(revs, f"step {step.revision} does not follow {previous}")
            previous = step.revision
        self._steps = {s.revision: s for s in ordered}
        self.head = ordered[-1].revision

    def __getitem__(self, revision: int) -> Step[C]:
        return self._steps[revision]

    def __iter__(self) -> Any:
        return iter(self._steps.values())

    def upgrade_path(self, current: int, target: int) -> list[Step[C]]:
        return [self._steps[r] for r in sorted(self._steps) if current < r <= target]

    def downgrade_path(self, current: int, target: int) -> list[Step[C]]:
        return [self._steps[r] for r in sorted(self._steps, reverse=True) if target < r <= current]


@dataclass(frozen=True, slots=True)
class MachineState:
    """The current phase and the mode of every context."""

    phase: int
    modes: Mapping[str, Mode]

    def contexts_in(self, mode: Mode) -> list[str]:
        return [c for c, m in self.modes.items() if m == mode]


@dataclass(frozen=True, slots=True)
class Move:
    """One step executed in one direction, for some contexts, after an optional exit gate."""

    revision: int
    direction: Literal["up", "down"]
    contexts: tuple[str, ...]
    gate_revision: int | None = None  # the exit gate to pass first (up moves)


@dataclass(frozen=True, slots=True)
class TransitionPlan:
    """What ``advance``/``rollback`` will do, before doing it (``--dry-run`` prints this)."""

    kind: Literal["advance", "rollback"]
    from_phase: int
    to_phase: int
    moves: tuple[Move, ...]
    modes_after: Mapping[str, Mode] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "from": self.from_phase,
            "to": self.to_phase,
            "moves": [
                {
                    "revision": m.revision,
                    "direction": m.direction,
                    "contexts": list(m.contexts),
                    "gate": m.gate_revision,
                }
                for m in self.moves
            ],
            "modes_after": {c: m.value for c, m in self.modes_after.items()},
        }


def modes_for(phase: int, contexts: Sequence[str], migrated: Iterable[str] = ()) -> dict[str, Mode]:
    """The mode every context has in ``phase`` (``migrated`` = async contexts in phase 4)."""
    done = set(migrated)
    if phase <= Phase.BROKER:
        return {c: Mode.SYNC for c in contexts}
    if phase == Phase.DUAL_WRITE:
        return {c: Mode.DUAL for c in contexts}
    if phase == Phase.ASYNC:
        return {c: Mode.ASYNC if c in done else Mode.DUAL for c in contexts}
    return {c: Mode.EVENTS_ONLY for c in contexts}


def plan_advance(
    state: MachineState, head: int, *, target: int | None = None, context: str | None = None
) -> TransitionPlan:
    """Plan ``advance [--to N] [--context C]`` or refuse with the reason."""
    cur = state.phase
    contexts = list(state.modes)
    if context is not None:
        return _plan_context_advance(state, context, target)
    tgt = cur + 1 if target is None else target
    if cur >= head:
        raise TransitionRefused(cur, tgt, f"phase {head} is the last phase; nothing to advance")
    if tgt <= cur:
        raise TransitionRefused(cur, tgt, "target is not ahead of the current phase (use rollback)")
    if tgt > head:
        raise TransitionRefused(cur, tgt, f"there is no phase {tgt}")
    moves: list[Move] = []
    migrated = state.contexts_in(Mode.ASYNC)
    for rev in range(cur + 1, tgt + 1):
        if rev == Phase.ASYNC + 1 and rev - 1 == cur:
            pending = [c for c in contexts if c not in migrated]
            if pending:
                raise TransitionRefused(
                    cur, tgt, f"contexts still in dual: {', '.join(pending)} (advance --context C)"
                )
        targets = contexts if rev != Phase.ASYNC else [c for c in contexts if c not in migrated]
        gate_contexts_rev = rev - 1 if rev > 1 else None
        moves.append(Move(rev, "up", tuple(targets), gate_contexts_rev))
    return TransitionPlan("advance", cur, tgt, tuple(moves), modes_for(tgt, contexts, contexts))


def _plan_context_advance(state: MachineState, context: str, target: int | None) -> TransitionPlan:
    cur = state.phase
    tgt = Phase.ASYNC if target is None else target
    if tgt != Phase.ASYNC:
        raise TransitionRefused(cur, tgt, "--context applies to phase 4 (migrate to async) only")
    if cur not in (Phase.DUAL_WRITE, Phase.ASYNC):
        raise TransitionRefused(cur, tgt, "contexts move to async one by one from phase 3 or 4")
    if state.modes.get(context) == Mode.ASYNC:
        raise TransitionRefused(cur, tgt, f"context {context} is already async")
    migrated = [*state.contexts_in(Mode.ASYNC), context]
    move = Move(Phase.ASYNC, "up", (context,), Phase.DUAL_WRITE)
    after = modes_for(Phase.ASYNC, list(state.modes), migrated)
    return TransitionPlan("advance", cur, Phase.ASYNC, (move,), after)


def plan_rollback(
    state: MachineState, *, target: int | None = None, context: str | None = None
) -> TransitionPlan:
    """Plan ``rollback [--to N] [--context C]`` or refuse with the reason."""
    cur = state.phase
    contexts = list(state.modes)
    if context is not None:
        if cur != Phase.ASYNC or state.modes.get(context) != Mode.ASYNC:
            raise TransitionRefused(cur, cur, f"context {context} is not async in phase 4")
        migrated = [c for c in state.contexts_in(Mode.ASYNC) if c != context]
        to = Phase.ASYNC if migrated else Phase.DUAL_WRITE
        move = Move(Phase.ASYNC, "down", (context,))
        return TransitionPlan("rollback", cur, to, (move,), modes_for(to, contexts, migrated))
    tgt = cur - 1 if target is None else target
    if cur <= 0:
        raise TransitionRefused(cur, tgt, "nothing to roll back")
    if not 0 <= tgt < cur:
        raise TransitionRefused(cur, tgt, "rollback target must be below the current phase")
    moves = []
    for rev in range(cur, tgt, -1):
        targets = contexts if rev != Phase.ASYNC else state.contexts_in(Mode.ASYNC) or contexts
        moves.append(Move(rev, "down", tuple(targets)))
    return TransitionPlan("rollback", cur, tgt, tuple(moves), modes_for(tgt, contexts))
