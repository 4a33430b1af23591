"""Verdicts: pass / warn / fail / low-confidence from a result and a frozen policy.

The match rate is estimated with a Wilson score interval (``confidence``,
two-sided); by default the *lower* bound is used, so a small sample cannot pass
on luck. The A/A noise floor is added back (see :mod:`comparators.noise`)::

    estimate = wilson_lower(matched, settled)   (or matched / settled)
    adjusted = min(1, estimate + noise_floor)
    pass  if adjusted >= min_match_rate
    warn  if warn_match_rate <= adjusted < min_match_rate
    fail  otherwise, or when a count limit (missing, expired, divergent,
          duplicate, extra, invariant violations) is exceeded
    low-confidence when fewer than min_settled_keys keys are settled

CLI exit codes: pass 0, warn 3, fail 4, low-confidence 5.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from enum import StrEnum
from statistics import NormalDist
from typing import Any

from comparators.noise import NoiseFloor
from comparators.result import Category, ComparisonResult
from cutover_common.exit_codes import ExitCode


class Status(StrEnum):
    PASS = "pass"  # noqa: S105 - a verdict, not a password
    WARN = "warn"
    FAIL = "fail"
    LOW_CONFIDENCE = "low-confidence"


EXIT_CODES: dict[Status, int] = {
    Status.PASS: ExitCode.OK,
    Status.WARN: ExitCode.WARN,
    Status.FAIL: ExitCode.FAIL,
    Status.LOW_CONFIDENCE: ExitCode.LOW_CONFIDENCE,
}
"""Each status's row of the binary's one exit-code table (:mod:`cutover_common.exit_codes`)."""


@dataclass(frozen=True, slots=True)
class VerdictPolicy:
    """Thresholds of a verdict (from the plan's gate). ``None`` count limits mean unlimited."""

    min_settled_keys: int = 1000
    min_match_rate: float = 0.999
    warn_match_rate: float = 0.99
    max_missing: int | None = 0
    max_expired: int | None = 0
    max_divergent: int | None = 0
    max_duplicate: int | None = 0
    max_extra: int | None = None
    max_invariant_violations: int | None = 0
    noise_floor: float = 0.0
    use_lower_bound: bool = True
    confidence: float = 0.95

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Verdict:
    """The decision and the figures behind it."""

    status: Status
    reasons: tuple[str, ...]
    settled: int
    matched: int
    match_rate: float
    wilson_lower: float
    wilson_upper: float
    adjusted_match_rate: float
    noise_floor: float

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.status]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = str(self.status)
        data["reasons"] = list(self.reasons)
        data["exit_code"] = self.exit_code
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in data.items()}


def wilson_interval(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion; ``(0, 1)`` when there are no trials."""
    if trials <= 0:
        return 0.0, 1.0
    z = NormalDist().inv_cdf(1 - (1 - confidence) / 2)
    p = successes / trials
    denom = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def wilson_keys_needed(rate: float, confidence: float = 0.95) -> int:
    """The fewest keys, all matching, whose Wilson lower bound reaches ``rate``: with every
    key matched the bound is ``n / (n + z²)``, so ``n ≥ z² · rate / (1 - rate)`` (125 keys at
    0.97). A gate whose ``min_settled_keys`` is below it cannot pass on a perfect record."""
    if not 0 <= rate < 1:
        raise ValueError(f"rate must be in [0, 1): {rate}")
    z = NormalDist().inv_cdf(1 - (1 - confidence) / 2)
    return math.ceil(z * z * rate / (1 - rate))


def _limits(result: ComparisonResult, policy: VerdictPolicy) -> list[str]:
    checks = (
        (Category.MISSING, policy.max_missing),
        (Category.EXPIRED, policy.max_expired),
        (Category.DIVERGENT, policy.max_divergent),
        (Category.DUPLICATE, policy.max_duplicate),
        (Category.EXTRA, policy.max_extra),
    )
    reasons = [
        f"{cat} keys {result.count(cat)} > max {limit}"
        for cat, limit in checks
        if limit is not None and result.count(cat) > limit
    ]
    limit = policy.max_invariant_violations
    if limit is not None and result.violation_total > limit:
        reasons.append(f"invariant violations {result.violation_total} > max {limit}")
    return reasons


def decide(
    result: ComparisonResult, policy: VerdictPolicy, noise: NoiseFloor | None = None
) -> Verdict:
    """Judge ``result`` under ``policy`` (``noise`` overrides ``policy.noise_floor``)."""
    floor = noise.rate if noise is not None else policy.noise_floor
    low, high = wilson_interval(result.matched, result.settled, policy.confidence)
    rate = result.match_rate
    estimate = low if policy.use_lower_bound else (rate if result.settled else 0.0)
    adjusted = min(1.0, estimate + floor)
    reasons: list[str] = []
    if result.settled < policy.min_settled_keys:
        status = Status.LOW_CONFIDENCE
        reasons.append(f"settled keys {result.settled} < min {policy.min_settled_keys}")
    else:
        reasons = _limits(result, policy)
        label = "match rate (Wilson lower bound)" if policy.use_lower_bound else "match rate"
        if adjusted < policy.warn_match_rate:
            reasons.append(f"{label} {adjusted:.6f} < warn threshold {policy.warn_match_rate}")
        if reasons:
            status = Status.FAIL
        elif adjusted < policy.min_match_rate:
            status = Status.WARN
            reasons.append(f"{label} {adjusted:.6f} < min {policy.min_match_rate}")
        else:
            status = Status.PASS
    return Verdict(
        status, tuple(reasons), result.settled, result.matched, rate, low, high, adjusted, floor
    )


def failed(reason: str, policy: VerdictPolicy, noise: NoiseFloor | None = None) -> Verdict:
    """The verdict of a run whose outcomes could not be read (``reason``: the database's one
    line): ``fail`` on no figures, never a pass."""
    floor = noise.rate if noise is not None else policy.noise_floor
    return Verdict(Status.FAIL, (reason,), 0, 0, math.nan, 0.0, 1.0, 0.0, floor)
