"""Phase 3 — dual-write: sync stays authoritative, the outbox feeds the shadow pipeline.

Entering starts the shadow pipeline, applies the shadow outbox's connector when the plan
declares one (``shadow_outbox:``; follow-up events start to matter here) and switches
contexts to ``dual``; leaving deletes that connector once no context is past ``sync``. The
exit gate, per context: comparator verdict over at least the plan's minimum of settled keys
written since the context entered ``dual`` (and no more than the plan's share of keys left
out), live members in the shadow group, consumer lag (in messages and in time), no event
deleted unread, dead letters under their bound, event-schema compatibility. An input that
could not be read makes the gate inconclusive.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

from cutover_common.modes import Mode
from phases.context import StepContext
from phases.errors import StepFailed
from phases.gates import GateResult, comparison_checks, lag_checks, members_check, schema_check
from phases.ports import ConnectorAdmin, Unmeasured
from phases.steps.common import connector_evidence, measure, modes_entered_at, read_lag

revision = 3
down_revision = 2
name = "dual_write"
gate_name = "dual_write"


def precheck(ctx: StepContext, contexts: Sequence[str]) -> list[str]:
    snap = measure("connector", ctx.ports.health.snapshot)
    if isinstance(snap, Unmeasured):
        return [f"connector state could not be read ({snap.reason}); events may not flow"]
    if snap.unreadable is not None:
        return [f"Kafka Connect could not be read ({snap.unreadable}); events may not flow"]
    if snap.state != "RUNNING":
        return [f"connector {snap.name} is {snap.state}; events would not flow"]
    return []


def forward(ctx: StepContext, contexts: Sequence[str]) -> None:
    ctx.ports.shadow.start(contexts)
    shadow_outbox = _shadow_outbox_admin(ctx)
    if shadow_outbox is not None:  # after the workers (they create its table), before dual
        ctx.say(f"shadow outbox connector applied: {shadow_outbox.apply_outbox_connector()}")
    ctx.set_modes(contexts, Mode.DUAL)


def backward(ctx: StepContext, contexts: Sequence[str]) -> None:
    ctx.set_modes(contexts, Mode.SYNC)
    ctx.ports.shadow.stop(contexts)
    shadow_outbox = _shadow_outbox_admin(ctx)
    still = sorted(c for c, m in ctx.ports.modes.get_modes().items() if m is not Mode.SYNC)
    if shadow_outbox is not None and not still:  # its slot stays, as the application's does
        shadow_outbox.delete_connector()
        ctx.say("shadow outbox connector deleted (slot and topics kept)")


def _shadow_outbox_admin(ctx: StepContext) -> ConnectorAdmin | None:
    """The shadow outbox's connector when the plan declares one (``shadow_outbox:``)."""
    if ctx.plan.shadow_outbox is None:
        return None
    if ctx.ports.shadow_connector is None:
        raise StepFailed(revision, "forward", "the plan declares shadow_outbox: no admin for it")
    return ctx.ports.shadow_connector


def gate(ctx: StepContext, contexts: Sequence[str]) -> GateResult:
    spec = ctx.plan.gates.dual_write
    checks, connector = connector_evidence(ctx)
    snapshots: dict[str, Any] = {"comparison": {}, "lag": {}, "connector": connector}
    entered = modes_entered_at(ctx)
    for c in ctx.gated_contexts(contexts, spec.contexts):
        summary = measure(
            "comparison",
            partial(
                ctx.ports.comparison.compare,
                c,
                candidate="event",
                window_seconds=spec.window_seconds,
                min_keys=spec.min_settled_keys,
                since=entered.get(c),
            ),
        )
        checks += comparison_checks(
            summary,
            min_keys=max(spec.min_settled_keys, spec.min_sample),
            min_match_rate=spec.min_match_rate,
            warn_match_rate=spec.warn_match_rate,
            max_left_out_share=spec.max_left_out_share,
            context=c,
        )
        lag = read_lag(ctx, c)
        checks.append(members_check(lag, context=c))
        checks += lag_checks(
            lag,
            context=c,
            max_lag_ms=spec.max_lag_ms,
            max_messages=spec.max_lag_messages,
            max_dead=spec.max_dead_lettered,
        )
        if spec.require_schema_compatible:
            events = ctx.plan.contexts[c].events
            report = measure("schemas", partial(ctx.ports.schemas.check, c, events))
            checks.append(schema_check(report, context=c))
        snapshots["comparison"][c] = summary.to_dict()
        snapshots["lag"][c] = lag.to_dict()
    return ctx.result(revision, gate_name, checks, contexts, snapshots)
