"""Noise calibration (A/A): compare two identical candidate pipelines with each other.

Whatever they disagree on is noise — races, clocks, flaky consumers — not a
migration defect. The measured disagreement rate is the *noise floor*::

    noise_floor = (settled - matched) / settled        (of the A/A comparison)

A verdict then credits the candidate with that much disagreement (see
:mod:`comparators.verdict`)::

    adjusted_match_rate = min(1, match_rate_estimate + noise_floor)

i.e. the adjusted mismatch rate is ``max(0, mismatch_rate - noise_floor)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from comparators.diff import Observation, Scope, compare
from comparators.invariants import Invariant
from comparators.result import ComparisonResult
from comparators.rules import CompareOptions


@dataclass(frozen=True, slots=True)
class NoiseFloor:
    """The A/A disagreement: ``rate`` over ``settled`` keys (``disagreements`` of them)."""

    rate: float = 0.0
    settled: int = 0
    disagreements: int = 0

    @classmethod
    def from_result(cls, result: ComparisonResult) -> NoiseFloor:
        if result.settled == 0:
            return cls()
        off = result.settled - result.matched
        return cls(off / result.settled, result.settled, off)

    def to_dict(self) -> dict[str, Any]:
        return {"rate": self.rate, "settled": self.settled, "disagreements": self.disagreements}


def calibrate(
    first: Iterable[Observation],
    second: Iterable[Observation],
    options: CompareOptions,
    scope: Scope,
    invariants: Sequence[Invariant] = (),
) -> tuple[NoiseFloor, ComparisonResult]:
    """Compare two candidate sources with each other; return the noise floor and the raw result."""
    result = compare(first, second, options, scope, invariants)
    return NoiseFloor.from_result(result), result
