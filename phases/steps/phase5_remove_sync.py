"""Phase 5 — remove synchronous calls: every context ``events-only``.

The gate (evaluated by ``cutover gate check`` in phase 5) proves zero sync calls over the
window, every invariant holding and the shadow group still consuming (live members); its bundle is the final reconciliation report.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from functools import partial
from typing import Any

from cutover_common.modes import Mode
from phases.context import StepContext
from phases.gates import GateResult, invariant_checks, members_check, sync_calls_check
from phases.ports import InvariantResult, Unmeasured
from phases.steps.common import connector_evidence, measure, read_lag

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
        calls = measure("sync_calls", partial(ctx.ports.sync_calls.count, c, since))
        checks.append(
            sync_calls_check(
                calls, context=c, max_calls=spec.max_sync_calls, window_s=spec.window_seconds
            )
        )
        spec_c = ctx.plan.contexts[c]
        names = [*spec_c.invariants, *(i.name for i in spec_c.sql_invariants)]
        results: list[InvariantResult] | Unmeasured = []
        if spec.require_invariants:
            results = measure(
                "invariants", partial(ctx.ports.invariants.check, c, names, spec.window_seconds)
            )
            checks += invariant_checks(results, context=c, names=names)
        lag = read_lag(ctx, c)
        checks.append(members_check(lag, context=c))
        reconciliation[c] = {
            "sync_calls": calls.to_dict() if isinstance(calls, Unmeasured) else calls,
            "since": since.isoformat(),
            "invariants": results.to_dict()
            if isinstance(results, Unmeasured)
            else [
                {
                    "name": r.name,
                    "holds": r.holds,
                    "violations": r.violations,
                    "detail": r.detail,
                    "error": r.error,
                }
                for r in results
            ],
            "lag": lag.to_dict(),
        }
    return ctx.result(
        revision,
        gate_name,
        checks,
        contexts,
        {"final_reconciliation": reconciliation, "connector": connector},
    )
