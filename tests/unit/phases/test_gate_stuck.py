"""A shadow group stuck at a record fails the gate's lag check, named (shadow.stuck)."""

from __future__ import annotations

from phases.gates import Check, Verdict, lag_checks
from phases.ports import LagSnapshot

STUCK = "stuck at order:1@1348: dead letter not produced to g.dlq: UNKNOWN_TOPIC_OR_PART"


def checks(snap: LagSnapshot) -> dict[str, Check]:
    found = lag_checks(snap, context="order", max_lag_ms=2000, max_messages=100, max_dead=0)
    return {c.name: c for c in found}


def test_a_stuck_group_fails_the_lag_check_with_the_stuck_text() -> None:
    snap = LagSnapshot("g", lag_messages=0, lag_ms=0.0, stuck=(STUCK,), topic="order")
    lag = checks(snap)["consumer_lag"]
    assert lag.verdict is Verdict.FAIL
    assert lag.detail == f"group g: {STUCK}"
    assert snap.to_dict()["stuck"] == [STUCK]


def test_a_group_stuck_nowhere_is_judged_on_its_figures() -> None:
    lag = checks(LagSnapshot("g", lag_messages=0, lag_ms=0.0))["consumer_lag"]
    assert lag.verdict is Verdict.PASS
