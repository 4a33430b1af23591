"""The context object the versioned steps talk to (like alembic's ``op``/migration context).

Steps never import the application's models or the other packages; everything they touch
goes through :class:`StepContext`: the plan, the ports, the drill log and the clock.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import structlog

from cutover_common.modes import Mode
from cutover_common.topics import TopicSpecValue
from phases.gates import Check, GateResult, combine
from phases.plan import Plan
from phases.ports import Ports

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class DrillRecord:
    """The last rollback drill of a context in phase 4."""

    context: str
    passed: bool
    detail: str
    at: datetime


class DrillLog(Protocol):
    def last_drill(self, context: str) -> DrillRecord | None: ...

    def record_drill(self, context: str, passed: bool, detail: Mapping[str, Any]) -> None: ...


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class StepContext:
    """What a step's forward/backward action, pre-check and gate can use."""

    plan: Plan
    ports: Ports
    actor: str
    drills: DrillLog
    clock: Callable[[], datetime] = utcnow
    say: Callable[[str], None] = field(default=lambda _line: None)

    def set_modes(self, contexts: Sequence[str], mode: Mode) -> None:
        """Switch ``contexts`` to ``mode`` in the table the legacy app reads."""
        if contexts:
            self.ports.modes.set_modes({c: mode for c in contexts}, actor=self.actor)
            log.info("modes_set", contexts=list(contexts), mode=mode.value, actor=self.actor)
            self.say(f"mode {mode.value}: {', '.join(contexts)}")

    def topic_specs(self) -> list[TopicSpecValue]:
        """Every topic the plan uses (:func:`phases.plan_topics.plan_topics`): the brokers
        create none on first use."""
        from phases.plan_topics import plan_topics

        return [t.spec for t in plan_topics(self.plan)]

    def gated_contexts(self, contexts: Sequence[str], allowed: Sequence[str] | None) -> list[str]:
        """``contexts`` restricted to those a gate applies to (all when the gate lists none)."""
        return [c for c in contexts if allowed is None or c in allowed]

    def result(
        self,
        phase: int,
        gate: str,
        checks: Sequence[Check],
        contexts: Sequence[str],
        snapshots: Mapping[str, Any] | None = None,
    ) -> GateResult:
        return GateResult(
            phase=phase,
            gate=gate,
            verdict=combine(checks),
            checks=tuple(checks),
            contexts=tuple(contexts),
            evaluated_at=self.clock(),
            snapshots=dict(snapshots or {}),
        )
