"""Gate arithmetic: measurements + thresholds -> checks -> one verdict. Pure, no I/O.

Verdicts align with comparators and the CLI exit codes: ``pass`` (0), ``warn`` (3),
``fail`` (4), ``low-confidence`` (5). The worst check decides.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from phases.ports import (
    CanaryResult,
    ComparisonSummary,
    ConnectorSnapshot,
    InvariantResult,
    LagSnapshot,
    SchemaReport,
)


class Verdict(StrEnum):
    PASS = "pass"  # noqa: S105
    WARN = "warn"
    LOW_CONFIDENCE = "low-confidence"
    FAIL = "fail"

    @property
    def rank(self) -> int:
        return _RANK[self]

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self]


_RANK = {Verdict.PASS: 0, Verdict.WARN: 1, Verdict.LOW_CONFIDENCE: 2, Verdict.FAIL: 3}
EXIT_CODES = {Verdict.PASS: 0, Verdict.WARN: 3, Verdict.FAIL: 4, Verdict.LOW_CONFIDENCE: 5}


@dataclass(frozen=True, slots=True)
class Check:
    """One threshold compared with one observed figure."""

    name: str
    verdict: Verdict
    observed: Any
    threshold: Any
    detail: str = ""
    context: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "verdict": self.verdict.value,
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


def combine(checks: Iterable[Check]) -> Verdict:
    """The worst verdict among ``checks`` (``pass`` when there are none)."""
    return max((c.verdict for c in checks), key=lambda v: v.rank, default=Verdict.PASS)


def _ok(cond: bool) -> Verdict:
    return Verdict.PASS if cond else Verdict.FAIL


def connector_checks(
    snap: ConnectorSnapshot, *, max_heartbeat_age_ms: float, require_slot_active: bool
) -> list[Check]:
    """Connector and every task RUNNING, slot active, heartbeat fresh."""
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
                "replication slot inactive or unknown",
            )
        )
    age = snap.heartbeat_age_ms
    checks.append(
        Check(
            "heartbeat_fresh",
            _ok(age is not None and age <= max_heartbeat_age_ms),
            age,
            max_heartbeat_age_ms,
            f"heartbeat age {age} ms",
        )
    )
    return checks


def canary_check(result: CanaryResult, *, max_ms: float) -> Check:
    ok = result.ok and result.latency_ms is not None and result.latency_ms <= max_ms
    return Check(
        "canary_round_trip",
        _ok(ok),
        result.latency_ms,
        max_ms,
        result.reason or f"round trip {result.latency_ms} ms",
    )


def comparison_checks(
    summary: ComparisonSummary,
    *,
    min_keys: int,
    min_match_rate: float,
    warn_match_rate: float | None,
    name: str = "comparison",
) -> list[Check]:
    """Sample size first (low-confidence), then the match rate (with the A/A noise floor the
    comparator credited) and the comparator verdict."""
    ctx = summary.context
    if summary.settled_keys < min_keys or summary.verdict == Verdict.LOW_CONFIDENCE:
        return [
            Check(
                f"{name}_sample",
                Verdict.LOW_CONFIDENCE,
                summary.settled_keys,
                min_keys,
                f"{summary.settled_keys} settled keys, need {min_keys}",
                ctx,
            )
        ]
    rate = summary.adjusted_match_rate
    if rate >= min_match_rate:
        rate_verdict = Verdict.PASS
    elif warn_match_rate is not None and rate >= warn_match_rate:
        rate_verdict = Verdict.WARN
    else:
        rate_verdict = Verdict.FAIL
    reported = Verdict(summary.verdict) if summary.verdict in _VALUES else Verdict.FAIL
    return [
        Check(f"{name}_sample", Verdict.PASS, summary.settled_keys, min_keys, "enough keys", ctx),
        Check(
            f"{name}_match_rate",
            rate_verdict,
            round(rate, 6),
            min_match_rate,
            f"{summary.matched}/{summary.settled_keys} matched {dict(summary.counts)}"
            + (f", noise floor {summary.noise_floor:.6f} credited" if summary.noise_floor else ""),
            ctx,
        ),
        Check(
            f"{name}_verdict",
            reported,
            summary.verdict,
            "pass",
            "; ".join(summary.reasons) or f"comparator says {summary.verdict}",
            ctx,
        ),
    ]


_VALUES = {v.value for v in Verdict}


def lag_checks(
    lag: LagSnapshot, *, context: str, max_lag_ms: float, max_messages: int, max_dead: int
) -> list[Check]:
    lag_ok = lag.lag_messages <= max_messages and (lag.lag_ms is None or lag.lag_ms <= max_lag_ms)
    return [
        Check(
            "consumer_lag",
            _ok(lag_ok),
            {"messages": lag.lag_messages, "ms": lag.lag_ms},
            {"messages": max_messages, "ms": max_lag_ms},
            f"group {lag.group}",
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


def schema_check(report: SchemaReport, *, context: str) -> Check:
    return Check(
        "event_schema_compatible",
        _ok(report.compatible),
        report.compatible,
        True,
        "; ".join(report.reasons) or "compatible",
        context,
    )


def sync_calls_check(count: int, *, context: str, max_calls: int, window_s: float) -> Check:
    return Check(
        "sync_calls",
        _ok(count <= max_calls),
        count,
        max_calls,
        f"{count} sync calls in the last {window_s:.0f}s",
        context,
    )


def invariant_checks(results: Iterable[InvariantResult], *, context: str) -> list[Check]:
    return [
        Check(f"invariant:{r.name}", _ok(r.holds), r.violations, 0, r.detail or "", context)
        for r in results
    ]


def drill_check(passed: bool | None, detail: str, *, context: str) -> Check:
    verdict = Verdict.PASS if passed else Verdict.FAIL
    return Check("rollback_drill", verdict, passed, True, detail, context)
