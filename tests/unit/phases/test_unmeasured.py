"""Verdicts never pass on the unmeasured: unknown checks, inconclusive gates, kinds of
evidence, keys left out, failed outcome queries, live consumers (pure gate arithmetic)."""

from __future__ import annotations

from phases.gates import (
    Check,
    Verdict,
    combine,
    comparison_checks,
    connector_checks,
    drill_check,
    invariant_checks,
    lag_checks,
    members_check,
    unknown_checks,
)
from phases.ports import (
    ComparisonSummary,
    ConnectorSnapshot,
    InvariantResult,
    LagSnapshot,
    TaskState,
    Unmeasured,
)


def by_name(checks: list[Check]) -> dict[str, Check]:
    return {c.name: c for c in checks}


def test_an_unknown_check_makes_the_gate_inconclusive_never_pass() -> None:
    checks = [Check("a", Verdict.PASS, 1, 1), *unknown_checks(["b"], "Connect unreachable")]
    assert combine(checks) is Verdict.INCONCLUSIVE
    assert int(combine(checks).exit_code) == 6


def test_an_infrastructure_fail_beside_an_unknown_check_is_inconclusive() -> None:
    checks = [Check("lag", Verdict.FAIL, 9, 1), *unknown_checks(["tasks_running"], "timeout")]
    assert combine(checks) is Verdict.INCONCLUSIVE


def test_an_outcome_fail_beside_an_unknown_check_is_a_fail() -> None:
    outcome = Check("comparison_match_rate", Verdict.FAIL, 0.5, 0.999, kind="outcome")
    checks = [outcome, *unknown_checks(["tasks_running"], "timeout")]
    assert combine(checks) is Verdict.FAIL


def test_a_failed_outcome_query_beside_an_unknown_check_is_a_fail() -> None:
    query = Check("comparison_query", Verdict.FAIL, None, "readable", kind="input")
    assert combine([query, *unknown_checks(["tasks_running"], "timeout")]) is Verdict.FAIL


def test_unknown_checks_say_why_and_carry_their_kind() -> None:
    (check,) = unknown_checks(["consumer_lag"], "Kafka unreadable", context="order")
    assert check.to_dict() == {
        "name": "consumer_lag",
        "verdict": "unknown",
        "kind": "infrastructure",
        "observed": None,
        "threshold": None,
        "detail": "Kafka unreadable",
        "context": "order",
    }


def test_lag_without_its_age_is_unknown_not_pass() -> None:
    lag = LagSnapshot("g", 0, None, 0, members=1)
    checks = by_name(
        lag_checks(lag, context="order", max_lag_ms=10_000, max_messages=100, max_dead=0)
    )
    assert checks["consumer_lag"].verdict is Verdict.UNKNOWN
    assert checks["consumer_lag"].observed == {"messages": 0, "ms": None}
    assert combine(checks.values()) is Verdict.INCONCLUSIVE


def test_lag_in_time_over_the_bound_fails_and_nothing_behind_passes() -> None:
    late = LagSnapshot("g", 3, 12_500.0, 0, members=1)
    ok = LagSnapshot("g", 0, 0.0, 0, members=1)
    bounds = {"context": "order", "max_lag_ms": 10_000, "max_messages": 100, "max_dead": 0}
    assert by_name(lag_checks(late, **bounds))["consumer_lag"].verdict is Verdict.FAIL  # type: ignore[arg-type]
    assert combine(lag_checks(ok, **bounds)) is Verdict.PASS  # type: ignore[arg-type]


def test_events_deleted_unread_fail_with_their_count() -> None:
    lag = LagSnapshot("g", 0, 0.0, 0, members=1, expired=103, topic="outbox.event.order")
    check = by_name(
        lag_checks(lag, context="order", max_lag_ms=10_000, max_messages=100, max_dead=0)
    )["events_expired"]
    assert (check.verdict, check.observed, check.kind) == (Verdict.FAIL, 103, "infrastructure")
    assert check.detail == "103 events deleted from outbox.event.order before group g read them"


def test_an_unreadable_lag_makes_every_lag_check_and_the_member_check_unknown() -> None:
    lag = Unmeasured("lag", "SourceError: kafka source failed: timed out")
    checks = lag_checks(lag, context="order", max_lag_ms=1, max_messages=1, max_dead=0)
    checks.append(members_check(lag, context="order"))
    assert [(c.name, c.verdict) for c in checks] == [
        ("consumer_lag", Verdict.UNKNOWN),
        ("events_expired", Verdict.UNKNOWN),
        ("dead_lettered", Verdict.UNKNOWN),
        ("consumers_live", Verdict.UNKNOWN),
    ]
    assert {c.detail for c in checks} == {"SourceError: kafka source failed: timed out"}


def test_an_empty_consumer_group_fails_with_no_live_consumers() -> None:
    check = members_check(LagSnapshot("cutover.shadow", 0, 0.0, members=0), context="order")
    assert (check.name, check.verdict, check.kind) == (
        "consumers_live",
        Verdict.FAIL,
        "infrastructure",
    )
    assert check.detail == "no live consumers in group cutover.shadow"


def test_live_members_pass_and_an_unread_member_count_is_unknown() -> None:
    live = members_check(LagSnapshot("g", 0, 0.0, members=2), context="order")
    unread = members_check(LagSnapshot("g", 0, 0.0, members=None), context="order")
    assert (live.verdict, live.observed) == (Verdict.PASS, 2)
    assert unread.verdict is Verdict.UNKNOWN


def test_connect_unreadable_leaves_connector_and_tasks_unknown_and_reads_slot_and_heartbeat() -> (
    None
):
    snap = ConnectorSnapshot("c", "UNKNOWN", (), True, 800.0, unreadable="read timed out (3s)")
    checks = by_name(connector_checks(snap, max_heartbeat_age_ms=60_000, require_slot_active=True))
    assert {n: c.verdict for n, c in checks.items()} == {
        "connector_running": Verdict.UNKNOWN,
        "tasks_running": Verdict.UNKNOWN,
        "slot_active": Verdict.PASS,
        "heartbeat_fresh": Verdict.PASS,
    }
    assert checks["tasks_running"].detail == "Kafka Connect unreadable: read timed out (3s)"


def test_a_connector_probe_that_raised_gives_every_connector_check_unknown() -> None:
    checks = connector_checks(
        Unmeasured("connector", "boom"), max_heartbeat_age_ms=1, require_slot_active=False
    )
    assert [(c.name, c.verdict) for c in checks] == [
        ("connector_running", Verdict.UNKNOWN),
        ("tasks_running", Verdict.UNKNOWN),
        ("heartbeat_fresh", Verdict.UNKNOWN),
    ]


def test_comparison_checks_have_kinds_sample_and_outcome() -> None:
    checks = comparison_checks(
        ComparisonSummary("order", "pass", 1000, 1000),
        min_keys=100,
        min_match_rate=0.999,
        warn_match_rate=None,
    )
    assert [(c.name, c.kind) for c in checks] == [
        ("comparison_sample", "sample"),
        ("comparison_left_out", "sample"),
        ("comparison_match_rate", "outcome"),
        ("comparison_verdict", "outcome"),
    ]


def test_keys_left_out_over_the_share_make_the_comparison_inconclusive() -> None:
    summary = ComparisonSummary("order", "pass", 2359, 2359, {"match": 2359, "inconclusive": 341})
    checks = by_name(
        comparison_checks(
            summary,
            min_keys=100,
            min_match_rate=0.999,
            warn_match_rate=None,
            max_left_out_share=0.05,
            name="reverse_comparison",
        )
    )
    left = checks["reverse_comparison_left_out"]
    assert (left.verdict, left.observed, left.threshold) == (Verdict.INCONCLUSIVE, 0.1263, 0.05)
    assert left.detail == "left out 341 of 2700 keys (inconclusive 341)"
    assert combine(checks.values()) is Verdict.INCONCLUSIVE


def test_keys_left_out_under_the_share_pass_and_are_stated() -> None:
    summary = ComparisonSummary(
        "order", "pass", 1000, 1000, {"match": 1000, "pending": 20, "out_of_scope": 10}
    )
    left = by_name(
        comparison_checks(summary, min_keys=100, min_match_rate=0.999, warn_match_rate=None)
    )["comparison_left_out"]
    assert (left.verdict, left.observed) == (Verdict.PASS, 0.0291)
    assert left.detail == "left out 30 of 1030 keys (pending 20, out_of_scope 10)"


def test_everything_out_of_scope_is_inconclusive_rather_than_low_confidence() -> None:
    summary = ComparisonSummary("order", "low-confidence", 0, 0, {"out_of_scope": 77})
    checks = comparison_checks(summary, min_keys=100, min_match_rate=0.999, warn_match_rate=None)
    assert combine(checks) is Verdict.INCONCLUSIVE
    assert "missing" not in " ".join(c.detail for c in checks)


def test_a_failed_outcome_query_is_one_failed_input_check_with_the_database_message() -> None:
    summary = ComparisonSummary.failed(
        "order", 'sync outcome query failed: column "total" does not exist'
    )
    (check,) = comparison_checks(summary, min_keys=1, min_match_rate=0.9, warn_match_rate=None)
    assert (check.name, check.verdict, check.kind) == ("comparison_query", Verdict.FAIL, "input")
    assert check.detail == 'sync outcome query failed: column "total" does not exist'
    assert combine([check]) is Verdict.FAIL


def test_an_invariant_whose_run_failed_to_read_is_an_input_fail_not_a_violation() -> None:
    summary = ComparisonSummary.failed("order", "outcome query failed: relation x does not exist")
    results = summary.invariant_results(["payment_captured_once"])
    assert results == [
        InvariantResult(
            "payment_captured_once",
            False,
            0,
            "",
            "outcome query failed: relation x does not exist",
        )
    ]
    (check,) = invariant_checks(results, context="order")
    assert (check.verdict, check.kind) == (Verdict.FAIL, "input")


def test_a_comparison_that_could_not_run_is_unknown() -> None:
    checks = comparison_checks(
        Unmeasured("comparison", "AdapterUnavailable: database unreachable"),
        min_keys=1,
        min_match_rate=0.9,
        warn_match_rate=None,
        context="order",
    )
    assert {c.verdict for c in checks} == {Verdict.UNKNOWN}
    assert {c.context for c in checks} == {"order"}


def test_a_low_confidence_drill_is_not_an_outcome_failure() -> None:
    low = drill_check(
        False, "drill low-confidence", context="order", verdict=Verdict.LOW_CONFIDENCE
    )
    failed = drill_check(False, "drill fail", context="order")
    assert (low.verdict, low.kind) == (Verdict.LOW_CONFIDENCE, "sample")
    assert (failed.verdict, failed.kind) == (Verdict.FAIL, "outcome")


def test_left_out_share_is_zero_without_keys() -> None:
    assert ComparisonSummary("order", "pass", 0, 0).left_out_share == 0.0
    assert ComparisonSummary("order", "pass", 0, 0, {"pending": 5}).left_out_share == 1.0


def test_task_states_still_fail_when_connect_answered() -> None:
    snap = ConnectorSnapshot("c", "RUNNING", (TaskState(0, "FAILED"),), True, 10.0)
    checks = by_name(connector_checks(snap, max_heartbeat_age_ms=100, require_slot_active=True))
    assert checks["tasks_running"].verdict is Verdict.FAIL


def test_junit_counts_unknown_and_inconclusive_checks_as_failures() -> None:
    from datetime import UTC, datetime

    from phases.evidence import junit_xml
    from phases.gates import GateResult

    checks = (
        Check("consumer_lag", Verdict.PASS, 0, 1),
        *unknown_checks(["tasks_running"], "Connect unreachable"),
        Check("comparison_left_out", Verdict.INCONCLUSIVE, 0.2, 0.05, "left out", "order"),
    )
    result = GateResult(
        3, "dual_write", Verdict.INCONCLUSIVE, checks, ("order",), datetime.now(UTC)
    )
    xml = junit_xml(result)
    assert 'tests="3" failures="2"' in xml
    assert 'message="unknown: Connect unreachable"' in xml
