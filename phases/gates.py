"""Gate arithmetic: measurements + thresholds -> checks -> one verdict. Pure, no I/O.

Verdicts align with comparators and the binary's exit-code table
(:class:`~cutover_common.exit_codes.ExitCode`): ``pass`` (0), ``warn`` (3), ``fail`` (4),
``low-confidence`` (5), ``inconclusive`` (6).

A check whose input could not be measured is ``unknown`` and never passes. Each check has
a *kind* saying what its evidence is about, so the decision that follows a verdict is
data-driven (:attr:`GateResult.outcome_failed`):

- ``outcome``: outcomes diverge or an invariant breaks (comparison, invariants, drill) —
  the only kind whose ``fail`` may revert automatically;
- ``infrastructure``: connector, tasks, slot, heartbeat, canary, lag, live consumers, DLQ —
  a ``fail`` pauses for a human;
- ``sample``: how much the comparison judged (too few keys, too many left out);
- ``input``: the gate's own inputs are wrong (an outcome query that fails, a plan without
  events) — a ``fail`` pauses.

The gate's verdict (:func:`combine`): ``fail`` when an outcome or input check failed;
otherwise ``inconclusive`` when any check is ``unknown``; otherwise the worst check.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from cutover_common.exit_codes import ExitCode
from phases.ports import (
    CanaryResult,
    ComparisonSummary,
    ConnectorSnapshot,
    InvariantResult,
    LagSnapshot,
    SchemaReport,
    Unmeasured,
)

CheckKind = Literal["outcome", "infrastructure", "sample", "input"]


class Verdict(StrEnum):
    PASS = "pass"  # noqa: S105
    WARN = "warn"
    LOW_CONFIDENCE = "low-confidence"
    INCONCLUSIVE = "inconclusive"
    FAIL = "fail"
    UNKNOWN = "unknown"
    """A check's verdict only: its input could not be measured (the gate is inconclusive)."""

    @property
    def rank(self) -> int:
        return _RANK[self]

    @property
    def exit_code(self) -> ExitCode:
        return EXIT_CODES[self]


_RANK = {
    Verdict.PASS: 0,
    Verdict.WARN: 1,
    Verdict.LOW_CONFIDENCE: 2,
    Verdict.INCONCLUSIVE: 3,
    Verdict.UNKNOWN: 3,
    Verdict.FAIL: 4,
}
EXIT_CODES: dict[Verdict, ExitCode] = {
    Verdict.PASS: ExitCode.OK,
    Verdict.WARN: ExitCode.WARN,
    Verdict.FAIL: ExitCode.FAIL,
    Verdict.LOW_CONFIDENCE: ExitCode.LOW_CONFIDENCE,
    Verdict.INCONCLUSIVE: ExitCode.INCONCLUSIVE,
    Verdict.UNKNOWN: ExitCode.INCONCLUSIVE,
}


@dataclass(frozen=True, slots=True)
class Check:
    """One threshold compared with one observed figure."""

    name: str
    verdict: Verdict
    observed: Any
    threshold: Any
    detail: str = ""
    context: str | None = None
    kind: CheckKind = "infrastructure"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "verdict": self.verdict.value,
            "kind": self.kind,
            "observed": self.observed,
            "threshold": self.threshold,
            "detail": self.detail,
            "context": self.context,
        }


@dataclass(frozen=True, slots=True)
class GateResult:
    """The outcome of evaluating one phase's gate."""

    phase: int
    gate: str
    verdict: Verdict
    checks: tuple[Check, ...]
    contexts: tuple[str, ...]
    evaluated_at: datetime
    snapshots: Mapping[str, Any] = field(default_factory=dict)

    @property
    def reasons(self) -> list[str]:
        return [
            f"{c.context + ': ' if c.context else ''}{c.name}: {c.detail}"
            for c in self.checks
            if c.verdict is not Verdict.PASS
        ]

    @property
    def outcome_failed(self) -> bool:
        """Whether measured outcome evidence failed (the only ground for an auto-revert)."""
        return any(_outcome_fail(c) for c in self.checks)

    def unknown(self) -> list[Check]:
        """The checks whose input could not be measured."""
        return [c for c in self.checks if c.verdict is Verdict.UNKNOWN]

    def to_dict(self) -> dict[str, Any]:
        return {
            "phase": self.phase,
            "gate": self.gate,
            "verdict": self.verdict.value,
            "contexts": list(self.contexts),
            "evaluated_at": self.evaluated_at.isoformat(),
            "checks": [c.to_dict() for c in self.checks],
            "reasons": self.reasons,
            "snapshots": dict(self.snapshots),
        }


def _outcome_fail(check: Check) -> bool:
    return check.verdict is Verdict.FAIL and check.kind == "outcome"


def _definite_fail(check: Check) -> bool:
    """A failure no unmeasured input can change: outcomes diverge, or the gate's own inputs
    are wrong (an outcome query that fails)."""
    return check.verdict is Verdict.FAIL and check.kind in ("outcome", "input")


def combine(checks: Iterable[Check]) -> Verdict:
    """The gate's verdict: ``fail`` when an outcome or input check failed, else
    ``inconclusive`` when any check is ``unknown``, else the worst check (``pass`` when
    there are none)."""
    checks = list(checks)
    if any(_definite_fail(c) for c in checks):
        return Verdict.FAIL
    if any(c.verdict is Verdict.UNKNOWN for c in checks):
        return Verdict.INCONCLUSIVE
    return max((c.verdict for c in checks), key=lambda v: v.rank, default=Verdict.PASS)


def unknown_checks(
    names: Sequence[str],
    reason: str,
    *,
    context: str | None = None,
    kind: CheckKind = "infrastructure",
) -> list[Check]:
    """``unknown`` checks for inputs that could not be measured, each saying why."""
    return [Check(n, Verdict.UNKNOWN, None, None, reason, context, kind) for n in names]


def _ok(cond: bool) -> Verdict:
    return Verdict.PASS if cond else Verdict.FAIL


CONNECTOR_CHECKS = ("connector_running", "tasks_running", "slot_active", "heartbeat_fresh")


def connector_checks(
    snap: ConnectorSnapshot | Unmeasured,
    *,
    max_heartbeat_age_ms: float,
    require_slot_active: bool,
) -> list[Check]:
    """Connector and every task RUNNING, slot active, heartbeat fresh. When Kafka Connect
    could not be read, the connector and task checks are ``unknown``; when nothing could be
    read, every check is."""
    names = [n for n in CONNECTOR_CHECKS if require_slot_active or n != "slot_active"]
    if isinstance(snap, Unmeasured):
        return unknown_checks(names, snap.reason)
    if snap.unreadable is not None:
        checks = unknown_checks(
            ["connector_running", "tasks_running"], f"Kafka Connect unreadable: {snap.unreadable}"
        )
    else:
        not_running = [t.id for t in snap.tasks if t.state != "RUNNING"]
        checks = [
            Check(
                "connector_running",
                _ok(snap.state == "RUNNING"),
                snap.state,
                "RUNNING",
                f"connector {snap.name} is {snap.state}",
            ),
            Check(
                "tasks_running",
                _ok(bool(snap.tasks) and not not_running),
                [f"{t.id}:{t.state}" for t in snap.tasks],
                "all RUNNING",
                "no tasks" if not snap.tasks else f"tasks not running: {not_running}",
            ),
        ]
    if require_slot_active:
        checks.append(
            Check(
                "slot_active",
                _ok(snap.slot_active is True),
                snap.slot_active,
                True,
                "replication slot active" if snap.slot_active else "replication slot inactive",
            )
        )
    age = snap.heartbeat_age_ms
    checks.append(
        Check(
            "heartbeat_fresh",
            _ok(age is not None and age <= max_heartbeat_age_ms),
            age,
            max_heartbeat_age_ms,
            "no heartbeat recorded" if age is None else f"heartbeat age {age:.0f} ms",
        )
    )
    return checks


def canary_check(result: CanaryResult | Unmeasured, *, max_ms: float) -> Check:
    if isinstance(result, Unmeasured):
        return unknown_checks(["canary_round_trip"], result.reason)[0]
    ok = result.ok and result.latency_ms is not None and result.latency_ms <= max_ms
    return Check(
        "canary_round_trip",
        _ok(ok),
        result.latency_ms,
        max_ms,
        result.reason or f"round trip {result.latency_ms} ms",
    )


def comparison_checks(
    summary: ComparisonSummary | Unmeasured,
    *,
    min_keys: int,
    min_match_rate: float,
    warn_match_rate: float | None,
    max_left_out_share: float = 0.05,
    name: str = "comparison",
    context: str | None = None,
) -> list[Check]:
    """Sample size first (low-confidence), the share of keys left out (inconclusive above
    ``max_left_out_share``), then the match rate (with the A/A noise floor the comparator
    credited) and the comparator verdict. A failed outcome query is one failed ``input``
    check; a comparison that could not run at all gives ``unknown`` checks."""
    if isinstance(summary, Unmeasured):
        names = [f"{name}_sample", f"{name}_match_rate", f"{name}_verdict"]
        return unknown_checks(names, summary.reason, context=context, kind="outcome")
    ctx = summary.context
    if summary.error is not None:
        return [Check(f"{name}_query", Verdict.FAIL, None, "readable", summary.error, ctx, "input")]
    left = _left_out_check(summary, max_left_out_share, name)
    if summary.settled_keys < min_keys or summary.verdict == Verdict.LOW_CONFIDENCE:
        sample = Check(
            f"{name}_sample",
            Verdict.LOW_CONFIDENCE,
            summary.settled_keys,
            min_keys,
            f"{summary.settled_keys} settled keys, need {min_keys}",
            ctx,
            "sample",
        )
        return [sample, left]
    rate = summary.adjusted_match_rate
    if rate >= min_match_rate:
        rate_verdict = Verdict.PASS
    elif warn_match_rate is not None and rate >= warn_match_rate:
        rate_verdict = Verdict.WARN
    else:
        rate_verdict = Verdict.FAIL
    reported = Verdict(summary.verdict) if summary.verdict in _VALUES else Verdict.FAIL
    return [
        Check(
            f"{name}_sample",
            Verdict.PASS,
            summary.settled_keys,
            min_keys,
            "enough keys",
            ctx,
            "sample",
        ),
        left,
        Check(
            f"{name}_match_rate",
            rate_verdict,
            round(rate, 6),
            min_match_rate,
            f"{summary.matched}/{summary.settled_keys} matched {dict(summary.counts)}"
            + (f", noise floor {summary.noise_floor:.6f} credited" if summary.noise_floor else ""),
            ctx,
            "outcome",
        ),
        Check(
            f"{name}_verdict",
            reported,
            summary.verdict,
            "pass",
            "; ".join(summary.reasons) or f"comparator says {summary.verdict}",
            ctx,
            "outcome",
        ),
    ]


_VALUES = {v.value for v in Verdict} - {Verdict.UNKNOWN.value}


def _left_out_check(summary: ComparisonSummary, max_share: float, name: str) -> Check:
    """How many keys the comparison left out (pending, out of scope, inconclusive verify
    runs): ``inconclusive`` when their share passes ``max_share``."""
    left = summary.left_out
    count = sum(left.values())
    share = summary.left_out_share
    parts = ", ".join(f"{k} {n}" for k, n in left.items())
    detail = f"left out {count} of {summary.settled_keys + count} keys" + (
        f" ({parts})" if parts else ""
    )
    return Check(
        f"{name}_left_out",
        Verdict.INCONCLUSIVE if share > max_share else Verdict.PASS,
        round(share, 4),
        max_share,
        detail,
        summary.context,
        "sample",
    )


LAG_CHECKS = ("consumer_lag", "events_expired", "dead_lettered")


def lag_checks(
    lag: LagSnapshot | Unmeasured,
    *,
    context: str,
    max_lag_ms: float,
    max_messages: int,
    max_dead: int,
) -> list[Check]:
    """Lag in messages and in time (``unknown`` when the time could not be read; failed when
    a worker of the group is stuck), records deleted before the group read them,
    dead-lettered messages."""
    if isinstance(lag, Unmeasured):
        return unknown_checks(LAG_CHECKS, lag.reason, context=context)
    observed = {"messages": lag.lag_messages, "ms": lag.lag_ms}
    threshold = {"messages": max_messages, "ms": max_lag_ms}
    if lag.stuck:  # a worker said it cannot go on: whatever the figures, the lag will grow
        lag_check = Check(
            "consumer_lag", Verdict.FAIL, {**observed, "stuck": list(lag.stuck)}, threshold,
            f"group {lag.group}: " + "; ".join(lag.stuck), context,
        )  # fmt: skip
    elif lag.lag_ms is None:
        lag_check = Check(
            "consumer_lag",
            Verdict.UNKNOWN,
            observed,
            threshold,
            f"group {lag.group}: {lag.lag_messages} messages behind, age of the oldest "
            "unconsumed event could not be read",
            context,
        )
    else:
        lag_check = Check(
            "consumer_lag",
            _ok(lag.lag_messages <= max_messages and lag.lag_ms <= max_lag_ms),
            observed,
            threshold,
            f"group {lag.group}: {lag.lag_messages} messages, oldest unconsumed "
            f"{lag.lag_ms:.0f} ms old",
            context,
        )
    return [
        lag_check,
        Check(
            "events_expired",
            _ok(lag.expired == 0),
            lag.expired,
            0,
            f"{lag.expired} events deleted from {lag.topic or 'the topic'} before group "
            f"{lag.group} read them",
            context,
        ),
        Check(
            "dead_lettered",
            _ok(lag.dead_lettered <= max_dead),
            lag.dead_lettered,
            max_dead,
            f"{lag.dead_lettered} dead-lettered",
            context,
        ),
    ]


def members_check(lag: LagSnapshot | Unmeasured, *, context: str) -> Check:
    """The shadow group has live members (from phase 3 on): 0 fails, unreadable is unknown."""
    if isinstance(lag, Unmeasured):
        return unknown_checks(["consumers_live"], lag.reason, context=context)[0]
    if lag.members is None:
        return unknown_checks(
            ["consumers_live"], f"members of group {lag.group} could not be read", context=context
        )[0]
    detail = (
        f"no live consumers in group {lag.group}"
        if lag.members == 0
        else f"{lag.members} live consumers in group {lag.group}"
    )
    return Check("consumers_live", _ok(lag.members > 0), lag.members, ">= 1", detail, context)


def schema_check(report: SchemaReport | Unmeasured, *, context: str) -> Check:
    if isinstance(report, Unmeasured):
        return unknown_checks(
            ["event_schema_compatible"], report.reason, context=context, kind="input"
        )[0]
    return Check(
        "event_schema_compatible",
        _ok(report.compatible),
        report.compatible,
        True,
        "; ".join(report.reasons) or "compatible",
        context,
        "input",
    )


def sync_calls_check(
    count: int | Unmeasured, *, context: str, max_calls: int, window_s: float
) -> Check:
    if isinstance(count, Unmeasured):
        return unknown_checks(["sync_calls"], count.reason, context=context, kind="outcome")[0]
    return Check(
        "sync_calls",
        _ok(count <= max_calls),
        count,
        max_calls,
        f"{count} sync calls in the last {window_s:.0f}s",
        context,
        "outcome",
    )


def invariant_checks(
    results: Iterable[InvariantResult] | Unmeasured,
    *,
    context: str,
    names: Sequence[str] = (),
) -> list[Check]:
    """One check per invariant; an invariant whose run could not read its outcomes is a
    failed ``input`` check; unmeasured invariants (``names``) are ``unknown``."""
    if isinstance(results, Unmeasured):
        names = [f"invariant:{n}" for n in names]
        return unknown_checks(names, results.reason, context=context, kind="outcome")
    return [
        Check(f"invariant:{r.name}", Verdict.FAIL, None, 0, r.error, context, "input")
        if r.error is not None
        else Check(
            f"invariant:{r.name}", _ok(r.holds), r.violations, 0, r.detail or "", context, "outcome"
        )
        for r in results
    ]


def drill_check(
    passed: bool | None, detail: str, *, context: str, verdict: Verdict | None = None
) -> Check:
    """The rollback drill; ``verdict`` is the drill comparison's own verdict when known (a
    drill that judged too few keys is low-confidence, not a divergence)."""
    if verdict is None:
        verdict = Verdict.PASS if passed else Verdict.FAIL
    kind: CheckKind = "outcome" if verdict in (Verdict.PASS, Verdict.FAIL) else "sample"
    return Check("rollback_drill", verdict, passed, True, detail, context, kind)
