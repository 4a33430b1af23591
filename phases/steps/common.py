"""What every gate shares: the one place a probe's failure becomes an unmeasured input, and
the evidence every event-path gate (phases 3-5) carries: the outbox connector's health and
the shadow group's lag and live members."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar

import structlog

from cutover_common.errors import CutoverError
from cutover_common.secrets import redact
from phases.context import StepContext
from phases.gates import Check, connector_checks
from phases.ports import LagSnapshot, Unmeasured

log = structlog.get_logger(__name__)
T = TypeVar("T")


def failure_reason(exc: BaseException) -> str:
    """One redacted line saying why a probe failed (a toolkit error's own line, else the
    exception's type and first line)."""
    if isinstance(exc, CutoverError):
        return exc.one_line().splitlines()[0] if str(exc) else type(exc).__name__
    first = (str(exc).strip().splitlines() or [""])[0]
    return redact(f"{type(exc).__name__}: {first}" if first else type(exc).__name__)


def measure(port: str, read: Callable[[], T]) -> T | Unmeasured:
    """``read()``, or :class:`Unmeasured` when it raises: a probe that cannot read its input
    (Connect unreachable, Kafka unreadable, a timed-out group read) never aborts the gate —
    its checks become ``unknown`` and every other check is still evaluated."""
    try:
        return read()
    except Exception as exc:  # the gate-evaluation boundary: every probe failure lands here
        reason = failure_reason(exc)
        log.warning("gate.input_unmeasured", port=port, reason=reason, error=type(exc).__name__)
        return Unmeasured(port, reason)


def connector_evidence(ctx: StepContext) -> tuple[list[Check], dict[str, Any]]:
    """Connector, tasks, slot and heartbeat checks (broker gate thresholds) and the snapshot."""
    spec = ctx.plan.gates.broker
    snap = measure("connector", ctx.ports.health.snapshot)
    checks = connector_checks(
        snap,
        max_heartbeat_age_ms=spec.max_heartbeat_age_ms,
        require_slot_active=spec.require_slot_active,
    )
    return checks, snap.to_dict()


def modes_entered_at(ctx: StepContext) -> Mapping[str, datetime]:
    """When each context entered its current mode, read once per gate (a context missing:
    not recorded, or the store could not be read — every context then). A gate's comparisons
    judge no key written before it, so keys written before a re-advance (in ``sync``, after a
    revert) never count toward its left-out share, while a key written in ``sync`` after it
    (an instance on a stale cached mode) still does."""
    entered = measure("modes", ctx.ports.modes.entered_at)
    return {} if isinstance(entered, Unmeasured) else entered


def read_lag(ctx: StepContext, context: str) -> LagSnapshot | Unmeasured:
    """The shadow group's position on ``context``'s topic (or why it could not be read)."""
    return measure("lag", lambda: ctx.ports.lag.lag(context))
