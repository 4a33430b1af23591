"""Phase 2 — add the broker: topics, the Debezium outbox connector, a canary round trip.

Entering creates the plan's topics, applies the outbox connector and proves a canary
event makes the round trip within the gate's bound (up to three attempts while the new
connector warms up; otherwise the entry is undone). The gate's own canary gets one try.
The exit gate: connector and every task RUNNING, slot active, heartbeat fresh, canary.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from phases.context import StepContext
from phases.errors import StepFailed
from phases.gates import GateResult, canary_check
from phases.outbox_connectors import application_connector
from phases.ports import Unmeasured
from phases.steps.common import connector_evidence, measure

revision = 2
down_revision = 1
name = "broker"
gate_name = "broker"
WARM_UP_ATTEMPTS = 3
HEARTBEAT_WAIT_MIN_S = 10.0
HEARTBEAT_POLL_S = 0.5


def precheck(ctx: StepContext, contexts: Sequence[str]) -> list[str]:
    return []


def forward(ctx: StepContext, contexts: Sequence[str]) -> None:
    created = ctx.ports.topics.ensure_topics(ctx.topic_specs())
    ctx.say(f"topics created: {', '.join(created) or '(all existed)'}")
    connector = ctx.ports.connector.apply_outbox_connector()
    ctx.say(f"connector applied: {connector}")
    bound = ctx.plan.gates.broker.max_canary_ms
    for attempt in range(1, WARM_UP_ATTEMPTS + 1):  # a new connector may still be warming up
        canary = ctx.ports.canary.round_trip(bound)
        check = canary_check(canary, max_ms=bound)
        if check.verdict.value == "pass":
            ctx.say(f"canary round trip {canary.latency_ms:.0f} ms (attempt {attempt})")
            _await_first_heartbeat(ctx)
            return
        ctx.say(f"canary attempt {attempt}: {check.detail}")
    raise StepFailed(revision, "forward", f"canary round trip: {check.detail}")


def _await_first_heartbeat(ctx: StepContext) -> None:
    """Wait (bounded) until the new connector's heartbeat action query has run once.

    A connector that streams from the slot's position (snapshot mode ``no_data``) runs its
    first heartbeat one interval after it starts, which can be after the canary came back;
    a gate read before then would find no heartbeat at all. Waiting here keeps the entry's
    promise (events flow *and* the heartbeat runs); a heartbeat that never comes leaves the
    gate's ``heartbeat_fresh`` check to say so.
    """
    interval_s = application_connector(ctx.plan).heartbeat_interval_ms / 1000
    deadline = time.monotonic() + max(3 * interval_s, HEARTBEAT_WAIT_MIN_S)
    while time.monotonic() < deadline:
        snap = measure("connector", ctx.ports.health.snapshot)
        if not isinstance(snap, Unmeasured) and snap.heartbeat_age_ms is not None:
            ctx.say(f"first heartbeat seen ({snap.heartbeat_age_ms:.0f} ms ago)")
            return
        time.sleep(HEARTBEAT_POLL_S)
    ctx.say("no heartbeat yet: the gate's heartbeat check will say so")


def backward(ctx: StepContext, contexts: Sequence[str]) -> None:
    ctx.ports.connector.delete_connector()
    ctx.say("connector deleted (topics kept)")


def gate(ctx: StepContext, contexts: Sequence[str]) -> GateResult:
    spec = ctx.plan.gates.broker
    checks, connector = connector_evidence(ctx)
    canary = measure("canary", lambda: ctx.ports.canary.round_trip(spec.max_canary_ms))
    checks.append(canary_check(canary, max_ms=spec.max_canary_ms))
    snapshots = {
        "connector": connector,
        "canary": canary.to_dict()
        if isinstance(canary, Unmeasured)
        else {"ok": canary.ok, "latency_ms": canary.latency_ms, "reason": canary.reason},
    }
    return ctx.result(revision, gate_name, checks, contexts, snapshots)
