"""``CompareOptions.explain_limit``: deepdiff explains at most that many differing keys per
category; past it a key still counts in its category, under the path ``(not explained)``.
With tolerances, explaining decides agreement, so every key is explained."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from comparators.diff import Observation, Scope, compare, observe
from comparators.explain import NOT_EXPLAINED
from comparators.result import Category
from comparators.rules import CompareOptions, Tolerance
from tests.unit.comparators.factories import LATER, T0, obs, pair

SCOPE = Scope(now=LATER)
TOLERANCES = (Tolerance("total", Decimal("0.01")), Tolerance("payment.amount", Decimal("0.01")))


def changed(n: int) -> tuple[list[Observation], list[Observation]]:
    """``n`` keys whose candidate has another correlation id (one differing path each)."""
    pairs = [pair(i, correlation_id=f"other-{i}") for i in range(1, n + 1)]
    return [c for c, _ in pairs], [d for _, d in pairs]


def test_keys_past_the_explain_limit_are_divergent_under_not_explained() -> None:
    control, candidate = changed(5)
    result = compare(control, candidate, CompareOptions(key="order_id", explain_limit=2), SCOPE)
    assert dict(result.counts) == {"divergent": 5}
    assert dict(result.paths) == {"correlation_id": 2, NOT_EXPLAINED: 3}


def test_the_first_keys_in_key_order_are_explained_with_their_real_differences() -> None:
    control, candidate = changed(5)
    opts = CompareOptions(key="order_id", explain_limit=2)
    found = {r.key: r for r in observe(control, candidate, opts, SCOPE)}
    first = found["ord-000001"].differences
    assert [(d.path, d.control, d.candidate) for d in first] == [
        ("correlation_id", "corr-1", "other-1")
    ]
    assert [d.path for d in found["ord-000002"].differences] == ["correlation_id"]
    rest = [[d.path for d in found[f"ord-{i:06d}"].differences] for i in (3, 4, 5)]
    assert rest == [[NOT_EXPLAINED]] * 3
    assert all(found[f"ord-{i:06d}"].category is Category.DIVERGENT for i in range(1, 6))


def test_without_a_limit_reached_no_key_is_under_not_explained() -> None:
    control, candidate = changed(5)
    result = compare(control, candidate, CompareOptions(key="order_id", explain_limit=5), SCOPE)
    assert dict(result.paths) == {"correlation_id": 5}


def test_with_tolerances_every_key_is_explained_whatever_the_limit() -> None:
    control, candidate = changed(4)
    # 10.004 and 10.006 round to different 0.01 steps but differ by 0.002: within tolerance
    c5, d5 = obs(5, at=T0 + timedelta(seconds=5), total="10.004"), pair(5, total="10.006")[1]
    opts = CompareOptions(key="order_id", explain_limit=1, tolerances=TOLERANCES)
    result = compare([*control, c5], [*candidate, d5], opts, SCOPE)
    assert dict(result.counts) == {"divergent": 4, "match": 1}
    assert dict(result.paths) == {"correlation_id": 4}
