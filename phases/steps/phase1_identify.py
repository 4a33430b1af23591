"""Phase 1 — identify bounded contexts (the plan, drafted by ``cutover discover``).

Entering registers every context in ``sync`` mode. The exit gate checks the plan is
complete enough to add the broker: tables, topic, events and outcome queries per context.
"""

from __future__ import annotations

from collections.abc import Sequence

from cutover_common.modes import Mode
from phases.context import StepContext
from phases.gates import Check, GateResult, Verdict

revision = 1
down_revision = 0
name = "identify"
gate_name = "identify"


def precheck(ctx: StepContext, contexts: Sequence[str]) -> list[str]:
    return [] if contexts else ["the plan defines no bounded context"]


def forward(ctx: StepContext, contexts: Sequence[str]) -> None:
    current = ctx.ports.modes.get_modes()
    ctx.set_modes([c for c in contexts if c not in current], Mode.SYNC)


def backward(ctx: StepContext, contexts: Sequence[str]) -> None:
    ctx.set_modes(contexts, Mode.SYNC)


def gate(ctx: StepContext, contexts: Sequence[str]) -> GateResult:
    spec = ctx.plan.gates.identify
    checks: list[Check] = []
    for c in ctx.gated_contexts(contexts or list(ctx.plan.contexts), spec.contexts):
        context = ctx.plan.contexts[c]
        has_events = bool(context.events)
        checks.append(
            Check(
                "events_declared",
                Verdict.PASS if has_events else Verdict.FAIL,
                len(context.events),
                ">= 1",
                "event types for the context",
                c,
                "input",
            )
        )
        if spec.require_outcome_queries:
            ok = context.outcome is not None
            checks.append(
                Check(
                    "outcome_queries",
                    Verdict.PASS if ok else Verdict.FAIL,
                    ok,
                    True,
                    "sync_query and event_query to compare outcomes",
                    c,
                    "input",
                )
            )
    return ctx.result(revision, gate_name, checks, contexts)
