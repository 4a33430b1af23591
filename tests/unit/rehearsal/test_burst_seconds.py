"""Gated bursts are long enough for a perfect record to clear the Wilson bound."""

from __future__ import annotations

from types import SimpleNamespace

from comparators.verdict import wilson_interval
from rehearsal.run import Rehearsal
from rehearsal.scenario import load_scenario


def _seconds(seconds: float, rate: float, min_rate: float, share: float) -> float:
    scenario = load_scenario("default")
    scenario = scenario.model_copy(
        update={"traffic": scenario.traffic.model_copy(update={"seconds": seconds, "rate": rate})}
    )
    return Rehearsal._burst_seconds(SimpleNamespace(scenario=scenario), min_rate, share)  # type: ignore[arg-type]


def test_the_tests_short_bursts_are_lengthened_until_a_perfect_record_passes() -> None:
    for min_rate, share in ((0.97, 0.7), (0.95, 0.4)):
        seconds = _seconds(8, 20, min_rate, share)
        keys = int(seconds * 20 * share)
        assert seconds > 8
        assert wilson_interval(keys, keys)[0] >= min_rate


def test_a_scenario_with_enough_traffic_keeps_its_seconds() -> None:
    assert _seconds(15, 20, 0.97, 0.7) == 15
    assert _seconds(15, 20, 0.95, 0.4) == 15
