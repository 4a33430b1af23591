"""Phase 5 — remove synchronous calls: every context ``events-only``.

The gate (evaluated by ``cutover gate check`` in phase 5) proves zero sync calls over the
window and every invariant holding; its bundle is the final reconciliation report.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from cutover_common.modes import Mode
from phases.context import StepContext
from phases.gates import GateResult, invariant_checks, sync_calls_check
from phases.steps.common import connector_evidence

revision = 5
down_revision = 4
name = "remove_sync"
gate_name = "remove_sync"


def precheck(ctx: StepContext, contexts: Sequence[str]) -> list[str]:
    modes = ctx.ports.modes.get_modes()
    return [
        f"context {c} is {modes.get(c)}, not async" for c in contexts if modes.get(c) != Mode.ASYNC
    ]


def forward(ctx: StepContext, contexts: Sequence[str]) -> None:
    ctx.set_modes(contexts, Mode.EVENTS_ONLY)


def backward(ctx: StepContext, contexts: Sequence[str]) -> None:
    ctx.set_modes(contexts, Mode.ASYNC)


def gate(ctx: StepContext, contexts: Sequence[str]) -> GateResult:
    spec = ctx.plan.gates.remove_sync
    since = ctx.clock() - timedelta(seconds=spec.window_seconds)
    checks, connector = connector_evidence(ctx)
    reconciliation: dict[str, Any] = {}
    for c in ctx.gated_contexts(contexts, spec.contexts):
        calls = ctx.ports.sync_calls.count(c, since)
        checks.append(
            sync_calls_check(
                calls, context=c, max_calls=spec.max_sync_calls, window_s=spec.window_seconds
            )
        )
        results = []
        if spec.require_invariants:
            results = ctx.ports.invariants.check(
                c, ctx.plan.contexts[c].invariants, spec.window_seconds
            )
            checks += invariant_checks(results, context=c)
        reconciliation[c] = {
            "sync_calls": calls,
            "since": since.isoformat(),
            "invariants": [
                {"name": r.name, "holds": r.holds, "violations": r.violations, "detail": r.detail}
                for r in results
            ],
        }
    return ctx.result(
        revision,
        gate_name,
        checks,
        contexts,
        {"final_reconciliation": reconciliation, "connector": connector},
    )
