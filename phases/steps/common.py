"""Evidence every event-path gate (phases 3-5) carries: the outbox connector's health."""

from __future__ import annotations

from typing import Any

from phases.context import StepContext
from phases.gates import Check, connector_checks


def connector_evidence(ctx: StepContext) -> tuple[list[Check], dict[str, Any]]:
    """Connector, tasks, slot and heartbeat checks (broker gate thresholds) and the snapshot."""
    spec = ctx.plan.gates.broker
    snap = ctx.ports.health.snapshot()
    checks = connector_checks(
        snap,
        max_heartbeat_age_ms=spec.max_heartbeat_age_ms,
        require_slot_active=spec.require_slot_active,
    )
    return checks, snap.to_dict()
