from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from comparators.diff import Observation, Scope, compare, diff_records, observation, observe
from comparators.errors import SourceError, UnsortedSourceError
from comparators.result import Category, ComparisonResult
from comparators.rules import CompareOptions, Tolerance
from legacy_app.outcome import Payment
from tests.unit.comparators.factories import LATER, T0, obs, outcome, pair, record, sides

OPTS = CompareOptions(key="order_id")
SCOPE = Scope(now=LATER)


def categories(
    control: list[Observation], candidate: list[Observation], **kw: object
) -> dict[str, str]:
    opts = replace(OPTS, **kw) if kw else OPTS  # type: ignore[arg-type]
    return {r.key: str(r.category) for r in observe(control, candidate, opts, SCOPE)}


def test_identical_outcomes_match_despite_source_and_time() -> None:
    c, d = pair(1)
    assert categories([c], [d]) == {"ord-000001": "match"}


def test_candidate_after_settle_deadline_is_late() -> None:
    c, d = pair(1, lag=30)
    assert categories([c], [d]) == {"ord-000001": "late"}


def test_control_without_candidate_is_missing() -> None:
    assert categories([obs(1)], []) == {"ord-000001": "missing"}


def test_candidate_without_control_is_extra() -> None:
    assert categories([], [obs(1, source="event")]) == {"ord-000001": "extra"}


def test_key_seen_twice_on_one_side_is_duplicate() -> None:
    c, d = pair(1)
    assert categories([c], [d, d]) == {"ord-000001": "duplicate"}
    assert categories([c, c], [d]) == {"ord-000001": "duplicate"}


def test_different_total_is_divergent_and_explained() -> None:
    c, d = pair(1, total="23.76")
    (res,) = observe([c], [d], OPTS, SCOPE)
    assert res.category is Category.DIVERGENT
    assert [x.path for x in res.differences] == ["payment.amount", "total"]
    assert res.differences[1].control == "23.75" and res.differences[1].candidate == "23.76"


def test_unsettled_key_is_pending_not_judged() -> None:
    c = obs(1, at=T0)
    scope = Scope(now=T0 + timedelta(seconds=2))
    (res,) = observe([c], [], OPTS, scope)
    assert res.category is Category.PENDING
    result = compare([c], [], OPTS, scope)
    assert result.pending == 1 and result.settled == 0


def test_extra_waits_for_its_own_settle_window() -> None:
    d = obs(1, at=T0, source="event")
    assert compare([], [d], OPTS, Scope(now=T0 + timedelta(seconds=1))).pending == 1


def test_tolerance_equal_values_match_even_across_rounding_steps() -> None:
    opts = CompareOptions(
        tolerances=(
            Tolerance("total", Decimal("0.01")),
            Tolerance("payment.amount", Decimal("0.01")),
        ),
        key="order_id",
    )
    # 10.004 and 10.006 round to different 0.01 steps (10.00 / 10.01) but differ by 0.002.
    c = obs(1, total="10.004")
    d = obs(1, total="10.006", source="event")
    assert compare([c], [d], opts, SCOPE).count(Category.MATCH) == 1


def test_difference_beyond_tolerance_is_divergent() -> None:
    opts = CompareOptions(tolerances=(Tolerance("total", Decimal("0.005")),), key="order_id")
    c, d = obs(1, total="10.00"), obs(1, total="10.01", source="event")
    assert compare([c], [d], opts, SCOPE).count(Category.DIVERGENT) == 1


def test_list_order_does_not_matter_for_a_path_the_rules_call_unordered() -> None:
    o = outcome(1)
    assert o.reservation is not None
    flipped = replace(o, reservation=replace(o.reservation, lines=o.reservation.lines[::-1]))
    opts = CompareOptions(unordered=("reservation.lines",), key="order_id")
    assert diff_records(o.to_dict(), flipped.to_dict(), opts) == ()


def test_by_default_list_order_matters_and_no_path_is_a_decimal() -> None:
    o = outcome(1)
    assert o.reservation is not None
    flipped = replace(o, reservation=replace(o.reservation, lines=o.reservation.lines[::-1]))
    assert [d.path for d in diff_records(o.to_dict(), flipped.to_dict())] != []
    assert (OPTS.decimals, OPTS.unordered) == ((), ())


def test_case_insensitive_recipient() -> None:
    opts = CompareOptions(case_insensitive=("notifications.recipient",), key="order_id")
    a, b = record(1, email="Ann@Example.com"), record(1, email="ann@example.com")
    assert diff_records(a, b, opts) == ()
    assert [d.path for d in diff_records(a, b)] == ["notifications[0].recipient"]


def test_missing_payment_is_reported_as_changed_path() -> None:
    a = record(1)
    b = outcome(1, payment=None).to_dict()
    assert [d.path for d in diff_records(a, b)] == ["payment"]


def test_attempts_difference_is_reported() -> None:
    b = outcome(1, payment=Payment(Decimal("23.75"), "captured", 2)).to_dict()
    assert [d.path for d in diff_records(record(1), b)] == ["payment.attempts"]


def test_unsorted_source_is_rejected() -> None:
    with pytest.raises(UnsortedSourceError) as err:
        list(observe([obs(2), obs(1)], [], OPTS, SCOPE))
    assert err.value.side == "control"


def test_observation_requires_key_and_time() -> None:
    with pytest.raises(SourceError):
        observation({"produced_at": T0.isoformat()}, key_field="order_id")
    with pytest.raises(SourceError):
        observation({"order_id": "x", "produced_at": "yesterday"}, key_field="order_id")


def test_result_counts_paths_and_samples() -> None:
    c1, d1 = pair(1, total="1.00")
    c2, d2 = pair(2)
    result = compare([c1, c2, obs(3)], [d1, d2], OPTS, SCOPE)
    assert dict(result.counts) == {"divergent": 1, "match": 1, "missing": 1}
    assert dict(result.paths) == {"payment.amount": 1, "total": 1}
    assert {s.key for s in result.samples} == {"ord-000001", "ord-000003"}
    assert result.match_rate == pytest.approx(1 / 3)


def test_lag_histogram_and_timeline() -> None:
    c, d = pair(1, lag=0.5)
    result = compare([c], [d], OPTS, SCOPE)
    assert sum(result.lag_histogram) == 1 and result.lag_histogram[2] == 1
    assert result.timeline == ((int(T0.timestamp()) // 60 * 60, 1, 1),)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sides())
def test_diff_of_a_side_with_itself_is_all_match(
    data: tuple[list[Observation], list[Observation]],
) -> None:
    control, _ = data
    singles = {o.key: o for o in control}
    items = sorted(singles.values(), key=lambda o: o.key)
    result = compare(items, items, OPTS, SCOPE)
    assert result.settled == len(items)
    assert result.count(Category.MATCH) == len(items)
    assert result.samples == ()


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sides())
def test_swapping_sides_swaps_missing_and_extra(
    data: tuple[list[Observation], list[Observation]],
) -> None:
    control, candidate = data
    forward: ComparisonResult = compare(control, candidate, OPTS, SCOPE)
    backward = compare(candidate, control, OPTS, SCOPE)
    assert forward.count(Category.MISSING) == backward.count(Category.EXTRA)
    assert forward.count(Category.EXTRA) == backward.count(Category.MISSING)
    for cat in (Category.DIVERGENT, Category.DUPLICATE):
        assert forward.count(cat) == backward.count(cat)
    assert forward.settled == backward.settled


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.decimals(min_value=0, max_value=1000, places=3),
    st.decimals(min_value=-10, max_value=10, places=0),
)
def test_values_within_tolerance_always_match(base: Decimal, steps: Decimal) -> None:
    tol = Decimal("0.005")
    other = base + steps * Decimal("0.001")
    opts = CompareOptions(
        tolerances=(Tolerance("total", tol), Tolerance("payment.amount", tol)), key="order_id"
    )
    c, d = obs(1, total=str(base)), obs(1, total=str(other), source="event")
    expected = Category.MATCH if abs(base - other) <= tol else Category.DIVERGENT
    (res,) = observe([c], [d], opts, SCOPE)
    assert res.category is expected
