from __future__ import annotations

from datetime import UTC, datetime

from phases.gates import (
    Check,
    GateResult,
    Verdict,
    canary_check,
    combine,
    comparison_checks,
    connector_checks,
    lag_checks,
    sync_calls_check,
)
from phases.ports import CanaryResult, ComparisonSummary, ConnectorSnapshot, LagSnapshot, TaskState


def test_combine_takes_the_worst_verdict() -> None:
    checks = [Check("a", Verdict.PASS, 1, 1), Check("b", Verdict.WARN, 1, 1)]
    assert combine(checks) is Verdict.WARN
    assert combine([*checks, Check("c", Verdict.LOW_CONFIDENCE, 0, 1)]) is Verdict.LOW_CONFIDENCE
    assert combine([*checks, Check("c", Verdict.INCONCLUSIVE, 0, 1)]) is Verdict.INCONCLUSIVE
    assert combine([*checks, Check("d", Verdict.FAIL, 0, 1)]) is Verdict.FAIL
    assert combine([]) is Verdict.PASS


def test_exit_codes_come_from_the_binary_table() -> None:
    assert {v.value: int(v.exit_code) for v in Verdict} == {
        "pass": 0,
        "warn": 3,
        "low-confidence": 5,
        "inconclusive": 6,
        "fail": 4,
        "unknown": 6,
    }


def test_connector_running_with_a_failed_task_fails() -> None:
    snap = ConnectorSnapshot(
        "c", "RUNNING", (TaskState(0, "RUNNING"), TaskState(1, "FAILED")), True, 10.0
    )
    checks = {
        c.name: c
        for c in connector_checks(snap, max_heartbeat_age_ms=100, require_slot_active=True)
    }
    assert checks["connector_running"].verdict is Verdict.PASS
    assert checks["tasks_running"].verdict is Verdict.FAIL
    assert "[1]" in checks["tasks_running"].detail


def test_connector_without_tasks_inactive_slot_or_stale_heartbeat_fails() -> None:
    snap = ConnectorSnapshot("c", "RUNNING", (), False, 5000.0)
    checks = {
        c.name: c.verdict
        for c in connector_checks(snap, max_heartbeat_age_ms=100, require_slot_active=True)
    }
    assert checks == {
        "connector_running": Verdict.PASS,
        "tasks_running": Verdict.FAIL,
        "slot_active": Verdict.FAIL,
        "heartbeat_fresh": Verdict.FAIL,
    }


def test_canary_over_the_bound_fails() -> None:
    assert canary_check(CanaryResult(True, 50.0), max_ms=100).verdict is Verdict.PASS
    assert canary_check(CanaryResult(True, 150.0), max_ms=100).verdict is Verdict.FAIL
    assert canary_check(CanaryResult(False, None, "lost"), max_ms=100).detail == "lost"


def summary(keys: int, matched: int, verdict: str = "pass") -> ComparisonSummary:
    return ComparisonSummary("payment", verdict, keys, matched)


def test_comparison_below_minimum_sample_is_low_confidence() -> None:
    check, left_out = comparison_checks(
        summary(10, 10), min_keys=100, min_match_rate=0.99, warn_match_rate=None
    )
    assert (check.verdict, check.kind, check.context) == (
        Verdict.LOW_CONFIDENCE,
        "sample",
        "payment",
    )
    assert (left_out.name, left_out.verdict) == ("comparison_left_out", Verdict.PASS)


def test_comparison_between_warn_and_pass_rates_warns() -> None:
    checks = comparison_checks(
        summary(1000, 995), min_keys=100, min_match_rate=0.999, warn_match_rate=0.99
    )
    assert combine(checks) is Verdict.WARN


def test_comparison_below_warn_rate_fails() -> None:
    checks = comparison_checks(
        summary(1000, 900), min_keys=100, min_match_rate=0.999, warn_match_rate=0.99
    )
    assert combine(checks) is Verdict.FAIL


def test_the_noise_floor_the_comparator_credited_is_credited_to_the_match_rate() -> None:
    noisy = ComparisonSummary("payment", "pass", 1000, 995, noise_floor=0.005)
    checks = comparison_checks(noisy, min_keys=100, min_match_rate=0.999, warn_match_rate=0.99)
    rate = next(c for c in checks if c.name == "comparison_match_rate")
    assert (rate.verdict, rate.observed) == (Verdict.PASS, 1.0)
    assert "noise floor 0.005000 credited" in rate.detail


def test_comparator_verdict_fail_fails_even_with_a_good_rate() -> None:
    checks = comparison_checks(
        summary(1000, 1000, "fail"), min_keys=100, min_match_rate=0.9, warn_match_rate=None
    )
    assert combine(checks) is Verdict.FAIL


def test_lag_and_dead_letters_over_bounds_fail() -> None:
    checks = lag_checks(
        LagSnapshot("g", 50, 3000.0, 2),
        context="payment",
        max_lag_ms=2000,
        max_messages=100,
        max_dead=0,
    )
    assert [(c.name, c.verdict) for c in checks] == [
        ("consumer_lag", Verdict.FAIL),
        ("events_expired", Verdict.PASS),
        ("dead_lettered", Verdict.FAIL),
    ]
    assert {c.kind for c in checks} == {"infrastructure"}


def test_any_sync_call_fails_phase_5() -> None:
    assert sync_calls_check(1, context="x", max_calls=0, window_s=60).verdict is Verdict.FAIL
    assert sync_calls_check(0, context="x", max_calls=0, window_s=60).verdict is Verdict.PASS


def test_gate_result_reasons_name_the_context_and_check() -> None:
    result = GateResult(
        3,
        "dual_write",
        Verdict.FAIL,
        (Check("consumer_lag", Verdict.FAIL, 5, 1, "group g", "payment"),),
        ("payment",),
        datetime.now(UTC),
    )
    assert result.reasons == ["payment: consumer_lag: group g"]
    assert result.to_dict()["verdict"] == "fail"
