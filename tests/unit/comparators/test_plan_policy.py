"""A plan gate's thresholds become the verdict policy without surprises."""

from __future__ import annotations

from comparators.plan import policy_from


def test_a_gate_with_only_a_minimum_has_no_warn_threshold_above_it() -> None:
    policy = policy_from({"min_match_rate": 0.97, "min_settled_keys": 10})

    assert policy.min_match_rate == 0.97
    assert policy.warn_match_rate == 0.97


def test_an_explicit_warn_threshold_is_kept() -> None:
    assert policy_from({"min_match_rate": 0.97, "warn_match_rate": 0.95}).warn_match_rate == 0.95
