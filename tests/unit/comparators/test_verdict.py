from __future__ import annotations

import pytest

from comparators.diff import Scope
from comparators.noise import NoiseFloor, calibrate
from comparators.result import ComparisonResult
from comparators.rules import CompareOptions
from comparators.verdict import (
    EXIT_CODES,
    Status,
    VerdictPolicy,
    decide,
    wilson_interval,
    wilson_keys_needed,
)
from tests.unit.comparators.factories import LATER, obs, pair


def result_of(
    match: int = 0, divergent: int = 0, missing: int = 0, extra: int = 0
) -> ComparisonResult:
    counts = {"match": match, "divergent": divergent, "missing": missing, "extra": extra}
    return ComparisonResult(counts=tuple(sorted((k, v) for k, v in counts.items() if v)))


def test_wilson_interval_known_value() -> None:
    low, high = wilson_interval(95, 100)
    assert low == pytest.approx(0.8882, abs=1e-4)
    assert high == pytest.approx(0.9785, abs=1e-4)


def test_wilson_without_trials() -> None:
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_exit_codes_are_documented_values() -> None:
    assert EXIT_CODES == {Status.PASS: 0, Status.WARN: 3, Status.FAIL: 4, Status.LOW_CONFIDENCE: 5}


def test_too_few_keys_is_low_confidence() -> None:
    v = decide(result_of(match=10), VerdictPolicy(min_settled_keys=100))
    assert v.status is Status.LOW_CONFIDENCE and v.exit_code == 5


def test_all_match_passes() -> None:
    v = decide(result_of(match=10_000), VerdictPolicy())
    assert v.status is Status.PASS and v.wilson_lower > 0.999


def test_one_divergent_fails_when_none_allowed() -> None:
    v = decide(result_of(match=9_999, divergent=1), VerdictPolicy())
    assert v.status is Status.FAIL
    assert v.reasons == ("divergent keys 1 > max 0",)


def test_rate_between_thresholds_warns() -> None:
    policy = VerdictPolicy(max_divergent=None, min_match_rate=0.999, warn_match_rate=0.99)
    v = decide(result_of(match=9_950, divergent=50), policy)
    assert v.status is Status.WARN


def test_rate_below_warn_fails() -> None:
    policy = VerdictPolicy(max_divergent=None)
    assert decide(result_of(match=900, divergent=100), policy).status is Status.FAIL


def test_lower_bound_versus_point_estimate() -> None:
    r = result_of(match=1000)
    strict = VerdictPolicy(min_settled_keys=10, min_match_rate=0.999)
    assert decide(r, strict).status is Status.WARN  # lower bound ~0.9962
    loose = VerdictPolicy(min_settled_keys=10, min_match_rate=0.999, use_lower_bound=False)
    assert decide(r, loose).status is Status.PASS


def test_noise_floor_is_added_back() -> None:
    policy = VerdictPolicy(max_divergent=None, min_match_rate=0.999, use_lower_bound=False)
    r = result_of(match=9_980, divergent=20)  # 0.998
    assert decide(r, policy).status is Status.WARN
    v = decide(r, policy, NoiseFloor(0.0015, 10_000, 15))
    assert v.status is Status.PASS and v.adjusted_match_rate == pytest.approx(0.9995)


def test_invariant_violations_fail() -> None:
    r = ComparisonResult(
        counts=(("match", 5000),), violations=(("payment_equals_total@candidate", 1),)
    )
    assert decide(r, VerdictPolicy()).reasons == ("invariant violations 1 > max 0",)


def test_calibrate_measures_disagreement_of_two_candidates() -> None:
    a = [pair(i)[1] for i in range(1, 11)]
    b = [pair(i)[1] for i in range(1, 10)] + [obs(10, total="1.00", source="event")]
    noise, result = calibrate(a, b, CompareOptions(key="order_id"), Scope(now=LATER))
    assert (noise.settled, noise.disagreements) == (10, 1)
    assert noise.rate == pytest.approx(0.1)
    assert result.count("divergent") == 1


def test_verdict_to_dict_has_exit_code() -> None:
    d = decide(result_of(), VerdictPolicy()).to_dict()
    assert d["status"] == "low-confidence" and d["exit_code"] == 5 and d["match_rate"] is None


@pytest.mark.parametrize("rate", [0.5, 0.9, 0.97, 0.99, 0.999])
def test_wilson_keys_needed_is_the_fewest_perfect_keys_whose_lower_bound_reaches_the_rate(
    rate: float,
) -> None:
    n = wilson_keys_needed(rate)
    assert wilson_interval(n, n)[0] >= rate
    assert wilson_interval(n - 1, n - 1)[0] < rate


def test_wilson_keys_needed_at_097_is_125() -> None:
    assert wilson_keys_needed(0.97) == 125
