"""Entering phase 2 waits (bounded) for the new connector's first heartbeat."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import pytest

from phases.context import DrillRecord, StepContext
from phases.fakes import InMemoryModeStore, fake_ports, running_snapshot
from phases.plan import Plan
from phases.ports import ConnectorSnapshot
from phases.steps import phase2_broker


class _HeartbeatAfter:
    """A health probe whose connector has no heartbeat for its first ``reads`` reads."""

    def __init__(self, reads: int) -> None:
        self.reads_left = reads
        self.reads = 0

    def snapshot(self) -> ConnectorSnapshot:
        self.reads += 1
        if self.reads_left > 0:
            self.reads_left -= 1
            return replace(running_snapshot(), heartbeat_age_ms=None)
        return running_snapshot()


class _NoDrills:
    def last_drill(self, context: str) -> DrillRecord | None:
        return None

    def record_drill(self, context: str, passed: bool, detail: Mapping[str, Any]) -> None:
        raise AssertionError("entering phase 2 runs no drill")


def _ctx(plan: Plan, probe: _HeartbeatAfter) -> tuple[StepContext, list[str]]:
    ports = replace(fake_ports(InMemoryModeStore()), health=probe)
    said: list[str] = []
    ctx = StepContext(plan=plan, ports=ports, actor="t", drills=_NoDrills(), say=said.append)
    return ctx, said


@pytest.fixture(autouse=True)
def _fast_poll(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(phase2_broker, "HEARTBEAT_POLL_S", 0.001)


def test_forward_returns_once_the_first_heartbeat_is_recorded(plan: Plan) -> None:
    probe = _HeartbeatAfter(reads=3)
    ctx, said = _ctx(plan, probe)
    phase2_broker.forward(ctx, [])
    assert probe.reads == 4
    assert any(s.startswith("first heartbeat seen") for s in said)


def test_forward_gives_up_at_its_bound_and_leaves_the_verdict_to_the_gate(
    plan: Plan, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(phase2_broker, "HEARTBEAT_WAIT_MIN_S", 0.05)
    fast = plan.model_copy(
        update={
            "system": plan.system.model_copy(
                update={
                    "connect": plan.system.connect.model_copy(update={"heartbeat_interval_ms": 1})
                }
            )
        }
    )
    ctx, said = _ctx(fast, _HeartbeatAfter(reads=10**9))
    phase2_broker.forward(ctx, [])
    assert said[-1] == "no heartbeat yet: the gate's heartbeat check will say so"
