"""Range checksums with bisection (comparators.bisect) over in-memory range stores: the
result equals the engine's key by key, whatever the data."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from comparators.bisect import (
    HASH_BITS,
    BisectPlan,
    InMemoryRangeStore,
    Range,
    RangeStore,
    RowRules,
    bisect_slices,
    differing_leaves,
    fold_matched,
)
from comparators.diff import Observation, Scope, compare, observe, sort_observations
from comparators.result import Accumulator, ComparisonResult
from comparators.rules import CompareOptions
from tests.unit.comparators.factories import T0
from tests.unit.comparators.range_contract import RangeStoreContract

NOW = T0 + timedelta(days=1)
OPTIONS = CompareOptions(key="k", sample_limit=10_000)
SCOPE = Scope(now=NOW, modes=frozenset({"dual"}))
RULES = RowRules(now=NOW, settle=OPTIONS.settle, modes=SCOPE.modes, exact_late=True)


class TestInMemoryRangeStoreContract(RangeStoreContract):
    def make_store(self, observations: Sequence[Observation], rules: RowRules) -> RangeStore:
        return InMemoryRangeStore(observations, rules)


def obs(
    i: int, value: int = 0, *, at: float = 0.0, mode: str = "dual", flag: bool = False
) -> Observation:
    key = f"k-{i:05d}"
    digest = bytes([value % 256]) * 16
    return Observation(
        key, {"k": key, "v": value}, T0 + timedelta(seconds=i + at), digest, mode, flag
    )


def by_ranges(
    control: Sequence[Observation],
    candidate: Sequence[Observation],
    plan: BisectPlan,
    workers: int = 1,
    rules: RowRules = RULES,
) -> tuple[ComparisonResult, int]:
    slices = [(InMemoryRangeStore(control, rules), InMemoryRangeStore(candidate, rules))]
    run = bisect_slices(slices, plan, workers)
    acc = Accumulator(OPTIONS.sample_limit, OPTIONS.timeline_bucket_seconds)
    for result in observe(run.control, run.candidate, OPTIONS, SCOPE):
        acc.add(result)
    fold_matched(acc, run.matched())
    return acc.freeze(), run.stats.control_rows


def by_engine(control: Sequence[Observation], candidate: Sequence[Observation]) -> ComparisonResult:
    return compare(sort_observations(control), sort_observations(candidate), OPTIONS, SCOPE)


def same(a: ComparisonResult, b: ComparisonResult) -> None:
    assert a.counts == b.counts
    assert {(s.key, s.category) for s in a.samples} == {(s.key, s.category) for s in b.samples}
    assert a.timeline == b.timeline


def test_equal_sides_compare_one_level_and_return_no_rows() -> None:
    rows = [obs(i) for i in range(500)]
    result, returned = by_ranges(rows, rows, BisectPlan(first_bits=6))
    assert dict(result.counts) == {"match": 500}
    assert returned == 0
    same(result, by_engine(rows, rows))


def test_one_divergent_key_returns_only_its_leaf() -> None:
    control = [obs(i) for i in range(2000)]
    candidate = [*control[:700], obs(700, 1), *control[701:]]
    plan = BisectPlan(first_bits=4, step_bits=2, leaf_rows=8)
    result, returned = by_ranges(control, candidate, plan)
    assert dict(result.counts) == {"divergent": 1, "match": 1999}
    assert 1 <= returned <= 8


def test_bisection_splits_only_differing_ranges_until_leaves_are_small() -> None:
    control = [obs(i) for i in range(4000)]
    candidate = [obs(i, 1 if i in (17, 2500) else 0) for i in range(4000)]
    plan = BisectPlan(first_bits=2, step_bits=3, leaf_rows=4)
    stores = InMemoryRangeStore(control, RULES), InMemoryRangeStore(candidate, RULES)
    for store in stores:
        store.prepare()
    leaves, stats = differing_leaves(*stores, plan)
    assert len(leaves) == 2 and all(isinstance(leaf, Range) for leaf in leaves)
    assert stats.levels >= 3
    assert stats.ranges_compared < 4 + 2 * 8 * stats.levels


def test_a_late_candidate_straddles_the_settle_grid_and_is_judged_late() -> None:
    control = [obs(i) for i in range(100)]
    candidate = [obs(i, at=60.0 if i == 42 else 0.3) for i in range(100)]
    result, _ = by_ranges(control, candidate, BisectPlan(first_bits=3))
    assert dict(result.counts)["late"] == 1
    same(result, by_engine(control, candidate))


def test_without_exact_late_a_late_key_in_an_agreeing_range_counts_as_a_match() -> None:
    control = [obs(i) for i in range(100)]
    candidate = [obs(i, at=60.0 if i == 42 else 0.3) for i in range(100)]
    rules = RowRules(now=NOW, settle=OPTIONS.settle, modes=SCOPE.modes)
    result, returned = by_ranges(control, candidate, BisectPlan(first_bits=3), rules=rules)
    assert dict(result.counts) == {"match": 100}
    assert result.matched == by_engine(control, candidate).matched
    assert returned == 0


def test_workers_split_the_key_space_and_agree_with_one_worker() -> None:
    control = [obs(i) for i in range(300)]
    candidate = [obs(i, i % 7 == 0) for i in range(300)]
    plan = BisectPlan(first_bits=3, step_bits=2, leaf_rows=4)
    slices = [(InMemoryRangeStore(control, RULES), InMemoryRangeStore(candidate, RULES))]
    run = bisect_slices(slices, plan, workers=3)
    keys = [o.key for o in run.control]
    assert keys == sorted(keys)
    same(by_ranges(control, candidate, plan, workers=2)[0], by_engine(control, candidate))


def test_a_bad_plan_is_refused() -> None:
    with pytest.raises(ValueError, match="bad bisection plan"):
        BisectPlan(first_bits=HASH_BITS + 1)


sides = st.lists(
    st.tuples(
        st.integers(0, 60),  # key
        st.integers(0, 2),  # value
        st.sampled_from([0.0, 0.2, 4.9, 6.0, 86_399.0]),  # seconds after its key's time
        st.sampled_from(["dual", "dual", "async"]),
    ),
    max_size=80,
)


@settings(max_examples=150, deadline=None)
@given(sides, sides, st.booleans())
def test_ranges_give_the_engines_categories_keys_and_timeline(
    left: list[tuple[int, int, float, str]],
    right: list[tuple[int, int, float, str]],
    inconclusive: bool,
) -> None:
    control = [obs(k, v, at=at, mode=m) for k, v, at, m in left]
    candidate = [
        obs(k, v, at=at, mode=m, flag=inconclusive and k % 5 == 0) for k, v, at, m in right
    ]
    plan = BisectPlan(first_bits=2, step_bits=1, leaf_rows=2)
    same(by_ranges(control, candidate, plan)[0], by_engine(control, candidate))
