from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from comparators.diff import Observation, Scope, compare
from comparators.errors import MergeError, PartitionError
from comparators.partition import Partition, all_partitions, key_hash
from comparators.result import ComparisonResult, merge
from comparators.rules import CompareOptions
from comparators.sources import InMemorySource, ReadWindow
from tests.unit.comparators.factories import LATER, sides

OPTS = CompareOptions(sample_limit=3, key="order_id")


def test_parse_partition() -> None:
    assert Partition.parse("2/8") == Partition(2, 8)
    for bad in ("8/8", "x/2", "1", "-1/2", "1/0"):
        with pytest.raises(PartitionError):
            Partition.parse(bad)


def test_every_key_is_in_exactly_one_partition() -> None:
    parts = all_partitions(5)
    for n in range(300):
        assert sum(p.contains(f"ord-{n}") for p in parts) == 1


def test_key_hash_is_md5_prefix() -> None:
    # md5("ord-1") starts with these 8 hex digits; Postgres computes the same.
    import hashlib

    assert key_hash("ord-1") == int(hashlib.md5(b"ord-1").hexdigest()[:8], 16)


def test_merge_of_nothing_is_empty() -> None:
    assert merge([]).settled == 0


def test_merge_rejects_different_sample_limits() -> None:
    with pytest.raises(MergeError):
        merge([ComparisonResult(sample_limit=1), ComparisonResult(sample_limit=2)])


def _partitioned(
    control: list[Observation], candidate: list[Observation], n: int
) -> ComparisonResult:
    results = []
    for part in all_partitions(n):
        window = ReadWindow(partition=part)
        c = InMemorySource(control, key="order_id").observations(window)
        d = InMemorySource(candidate, key="order_id").observations(window)
        results.append(compare(c, d, OPTS, Scope(now=LATER, partition=part)))
    return merge(results)


def _records(items: list[Observation]) -> list[dict[str, object]]:
    return [dict(o.record) for o in items]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sides(), st.integers(1, 6))
def test_partitioned_run_equals_unpartitioned(
    data: tuple[list[Observation], list[Observation]], n: int
) -> None:
    control, candidate = data
    whole = compare(control, candidate, OPTS, Scope(now=LATER))
    split = _partitioned(_records(control), _records(candidate), n)  # type: ignore[arg-type]
    assert split == whole


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sides(), sides(), sides())
def test_merge_is_associative(
    a: tuple[list[Observation], list[Observation]],
    b: tuple[list[Observation], list[Observation]],
    c: tuple[list[Observation], list[Observation]],
) -> None:
    ra, rb, rc = (compare(x, y, OPTS, Scope(now=LATER)) for x, y in (a, b, c))
    assert merge([merge([ra, rb]), rc]) == merge([ra, merge([rb, rc])])
    assert merge([ra, rb]) == merge([rb, ra])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sides())
def test_result_round_trips_through_json(data: tuple[list[Observation], list[Observation]]) -> None:
    import json

    result = compare(*data, OPTS, Scope(now=LATER))
    again = ComparisonResult.from_dict(json.loads(json.dumps(result.to_dict(), default=str)))
    assert again.to_dict() == json.loads(json.dumps(result.to_dict(), default=str))
    assert again.counts == result.counts
