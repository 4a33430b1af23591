"""Phase 4 — migrate to async, context by context.

Entering switches the given contexts to ``async`` (event consumers authoritative, the sync
call in verify mode). The exit gate, per context: a rollback drill (back to ``dual``, prove
outcomes still match, forward again) must have passed, and the reverse comparison of event
outcomes against verify-mode sync outcomes must pass (with no more than the plan's share of
keys left out, e.g. inconclusive verify runs); the shadow group has live members, its lag
is under bound and no event was deleted unread.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

from cutover_common.modes import Mode
from phases.context import StepContext
from phases.gates import (
    GateResult,
    Verdict,
    combine,
    comparison_checks,
    drill_check,
    lag_checks,
    members_check,
)
from phases.steps.common import connector_evidence, measure, modes_entered_at, read_lag

revision = 4
down_revision = 3
name = "async"
gate_name = "async"


def precheck(ctx: StepContext, contexts: Sequence[str]) -> list[str]:
    modes = ctx.ports.modes.get_modes()
    return [
        f"context {c} is {modes.get(c)}, not dual" for c in contexts if modes.get(c) != Mode.DUAL
    ]


def forward(ctx: StepContext, contexts: Sequence[str]) -> None:
    ctx.set_modes(contexts, Mode.ASYNC)


def backward(ctx: StepContext, contexts: Sequence[str]) -> None:
    ctx.set_modes(contexts, Mode.DUAL)


def run_drill(ctx: StepContext, context: str) -> tuple[bool, dict[str, Any]]:
    """Switch ``context`` back to dual, compare, switch forward again; record the result
    (``detail["verdict"]``: the drill comparison's own verdict)."""
    spec = ctx.plan.gates.async_
    ctx.say(f"rollback drill for {context}: back to dual")
    ctx.set_modes([context], Mode.DUAL)
    try:
        summary = measure(
            "comparison",
            partial(
                ctx.ports.comparison.compare,
                context,
                candidate="event",
                window_seconds=spec.window_seconds,
                min_keys=spec.drill_min_settled_keys,
            ),
        )
    finally:
        ctx.set_modes([context], Mode.ASYNC)
    checks = comparison_checks(
        summary,
        min_keys=spec.drill_min_settled_keys,
        min_match_rate=spec.min_match_rate,
        warn_match_rate=None,
        max_left_out_share=spec.max_left_out_share,
        name="drill",
        context=context,
    )
    verdict = combine(checks)
    passed = verdict is Verdict.PASS
    detail = {"comparison": summary.to_dict(), "passed": passed, "verdict": verdict.value}
    ctx.drills.record_drill(context, passed, detail)
    ctx.say(f"rollback drill for {context}: {'passed' if passed else verdict.value.upper()}")
    return passed, detail


def gate(ctx: StepContext, contexts: Sequence[str]) -> GateResult:
    spec = ctx.plan.gates.async_
    checks, connector = connector_evidence(ctx)
    snapshots: dict[str, Any] = {
        "drill": {},
        "reverse_comparison": {},
        "lag": {},
        "connector": connector,
    }
    entered = modes_entered_at(ctx)  # before any drill switches a mode back and forth
    for c in ctx.gated_contexts(contexts, spec.contexts):
        last = ctx.drills.last_drill(c)
        if last is not None and last.passed:
            passed, detail = True, {"previous_drill_at": last.at.isoformat()}
        else:
            passed, detail = run_drill(ctx, c)
        checks.append(
            drill_check(
                passed,
                "drill passed" if passed else f"drill {detail.get('verdict', 'fail')}",
                context=c,
                verdict=Verdict(detail["verdict"]) if "verdict" in detail else None,
            )
        )
        summary = measure(
            "comparison",
            partial(
                ctx.ports.comparison.compare,
                c,
                candidate="verify",
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
            name="reverse_comparison",
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
        snapshots["drill"][c] = detail
        snapshots["reverse_comparison"][c] = summary.to_dict()
        snapshots["lag"][c] = lag.to_dict()
    return ctx.result(revision, gate_name, checks, contexts, snapshots)
