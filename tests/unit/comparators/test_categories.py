"""Out of scope by write-time mode, pending vs missing by the pipeline's watermark, expired by
Kafka's log start: the pure classification of keys without candidate (issue 17, item 2)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from comparators.diff import (
    ASYNC_MODES,
    DUAL_WRITE_MODES,
    Observation,
    Scope,
    compare,
    observation,
    observe,
)
from comparators.heartbeat_kafka import heartbeat_time
from comparators.kafka_partitioner import key_bytes, murmur2, partition_for
from comparators.position import PartitionPosition, PipelinePosition
from comparators.repair import propose
from comparators.result import JUDGED, LEFT_OUT, MISMATCHES, Category, ComparisonResult
from comparators.rules import CompareOptions
from comparators.verdict import Status, VerdictPolicy, decide
from tests.unit.comparators.factories import LATER, T0, record

OPTS = CompareOptions(key="order_id")
SETTLE = OPTS.settle
PARTS = 3


def written(i: int, mode: str | None = "dual", **kw: object) -> Observation:
    rec = record(i, **kw)
    if mode is not None:
        rec["write_mode"] = mode
    return observation(rec, key_field="order_id")


def answer(i: int, **kw: object) -> Observation:
    at = T0 + timedelta(seconds=i, milliseconds=300)
    return observation(record(i, source="event", at=at, **kw), key_field="order_id")


def position(
    observed_at: datetime = LATER,
    *,
    behind: dict[int, datetime] | None = None,
    expired: dict[int, int] | None = None,
    partitions: int = PARTS,
) -> PipelinePosition:
    """A position: partitions in ``behind`` have one unread record from that time on,
    those in ``expired`` lost that many records unread."""
    behind, expired = behind or {}, expired or {}
    parts = []
    for p in range(partitions):
        committed = 100
        log_start = committed + expired.get(p, 0)
        lag = 1 if p in behind else 0
        parts.append(PartitionPosition(p, committed, log_start, log_start + lag, behind.get(p)))
    return PipelinePosition("t", "g", observed_at, tuple(parts), members=1)


def judged(
    control: Sequence[Observation],
    candidate: Sequence[Observation],
    scope: Scope,
    options: CompareOptions = OPTS,
) -> dict[str, Category]:
    return {r.key: r.category for r in observe(control, candidate, options, scope)}


def key(i: int) -> str:
    return f"ord-{i:06d}"


def keys_in(partition: int, count: int, partitions: int = PARTS) -> list[int]:
    found = [i for i in range(1, 500) if partition_for(key(i), partitions) == partition]
    return found[:count]


# --- the categories -------------------------------------------------------------------------


def test_expired_is_a_mismatch_and_left_out_categories_are_not_judged() -> None:
    assert Category.EXPIRED in MISMATCHES and Category.EXPIRED in JUDGED
    assert set(LEFT_OUT) == {Category.PENDING, Category.OUT_OF_SCOPE, Category.INCONCLUSIVE}
    assert not set(LEFT_OUT) & set(JUDGED)


def test_left_out_keys_are_counted_but_never_settled() -> None:
    result = ComparisonResult(counts=(("match", 90), ("out_of_scope", 7), ("pending", 3)))
    assert (result.settled, result.left_out, result.out_of_scope) == (90, 10, 7)
    assert result.left_out_share == 0.1
    assert result.match_rate == 1.0


def test_expired_keys_fail_the_verdict_like_missing_ones() -> None:
    result = ComparisonResult(counts=(("expired", 2), ("match", 5000)))
    verdict = decide(result, VerdictPolicy(min_settled_keys=10))
    assert verdict.status is Status.FAIL
    assert "expired keys 2 > max 0" in verdict.reasons


# --- out of scope by write-time mode --------------------------------------------------------


def test_keys_written_in_sync_are_out_of_scope_of_a_dual_write_comparison() -> None:
    control = [written(1, "sync"), written(2, "dual"), written(3, "naive-dual")]
    got = judged(control, [], Scope(now=LATER, modes=DUAL_WRITE_MODES))
    assert got == {key(1): Category.OUT_OF_SCOPE, key(2): Category.MISSING, key(3): "missing"}


def test_keys_written_before_async_are_out_of_scope_of_the_reverse_comparison() -> None:
    control = [written(1, "dual"), written(2, "async")]
    got = judged(control, [answer(1), answer(2)], Scope(now=LATER, modes=ASYNC_MODES))
    assert got == {key(1): Category.OUT_OF_SCOPE, key(2): Category.MATCH}


def test_a_key_whose_records_name_no_mode_is_judged() -> None:
    got = judged([written(1, None)], [], Scope(now=LATER, modes=DUAL_WRITE_MODES))
    assert got == {key(1): Category.MISSING}


def test_the_mode_column_is_never_compared() -> None:
    assert judged([written(1, "dual")], [answer(1)], Scope(now=LATER)) == {key(1): "match"}


def test_a_custom_mode_column_decides_the_scope() -> None:
    rec = record(1)
    rec["ctx_mode"] = "sync"
    control = [observation(rec, mode_field="ctx_mode", key_field="order_id")]
    options = CompareOptions(mode_field="ctx_mode", key="order_id")
    got = judged(control, [], Scope(now=LATER, modes=DUAL_WRITE_MODES), options)
    assert got == {key(1): Category.OUT_OF_SCOPE}
    assert "ctx_mode" in options.ignore


def test_a_key_still_in_its_settle_window_is_pending_whatever_its_mode() -> None:
    at = T0 + timedelta(seconds=1)
    got = judged([written(1, "sync")], [], Scope(now=at + SETTLE / 2, modes=DUAL_WRITE_MODES))
    assert got == {key(1): Category.PENDING}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["sync", "dual", "async", "events-only"]), max_size=30))
def test_out_of_scope_keys_are_exactly_those_written_outside_the_modes(modes: list[str]) -> None:
    control = [written(i, m) for i, m in enumerate(modes, 1)]
    result = compare(control, [], OPTS, Scope(now=LATER, modes=DUAL_WRITE_MODES))
    assert result.out_of_scope == sum(m != "dual" for m in modes)
    assert result.count(Category.MISSING) == modes.count("dual")
    assert result.settled + result.left_out == len(modes)


# --- pending vs missing by the watermark ----------------------------------------------------


def test_without_position_the_watermark_is_unknown_and_the_settle_window_decides() -> None:
    scope = Scope(now=LATER)
    assert not scope.watermark_known
    assert judged([written(1)], [], scope) == {key(1): Category.MISSING}


def test_a_key_the_pipeline_has_not_reached_is_pending_not_missing() -> None:
    control = [written(1), written(100)]  # committed at T0+1 s and T0+100 s
    behind = {p: T0 + timedelta(seconds=50) for p in range(PARTS)}
    scope = Scope(now=LATER, position=position(behind=behind))
    assert scope.watermark_known
    assert judged(control, [], scope) == {key(1): "missing", key(100): Category.PENDING}


def test_the_settle_window_is_counted_from_the_watermark() -> None:
    """A key committed just before the watermark may still be on its way (capture delay)."""
    mark = T0 + timedelta(seconds=3)
    scope = Scope(now=LATER, position=position(behind={0: mark}))
    assert judged([written(1)], [], scope) == {key(1): Category.PENDING}


def test_nothing_behind_puts_the_watermark_at_the_reading() -> None:
    scope = Scope(now=LATER, position=position(observed_at=LATER))
    assert judged([written(1)], [], scope) == {key(1): Category.MISSING}


def test_a_behind_partition_without_a_time_makes_every_absent_key_pending() -> None:
    pos = PipelinePosition("t", "g", LATER, (PartitionPosition(0, 5, 0, 9, None),))
    scope = Scope(now=LATER, position=pos)
    assert not pos.watermark_known and not scope.watermark_known
    assert judged([written(1)], [answer(2)], scope) == {key(1): "pending", key(2): "extra"}


def test_keys_with_both_sides_are_judged_whatever_the_watermark() -> None:
    behind = {p: T0 for p in range(PARTS)}
    scope = Scope(now=LATER, position=position(behind=behind))
    assert judged([written(5)], [answer(5)], scope) == {key(5): Category.MATCH}


# --- expired by the log start ---------------------------------------------------------------


def test_absent_keys_of_a_partition_that_lost_records_unread_are_expired() -> None:
    lost = keys_in(1, 3)
    kept = keys_in(2, 2)
    control = sorted((written(i) for i in lost + kept), key=lambda o: o.key)
    scope = Scope(now=LATER, position=position(expired={1: 3}))
    got = judged(control, [], scope)
    assert {k for k, c in got.items() if c is Category.EXPIRED} == {key(i) for i in lost}
    assert {k for k, c in got.items() if c is Category.MISSING} == {key(i) for i in kept}


def test_no_more_keys_expire_than_records_were_deleted() -> None:
    lost = keys_in(0, 5)
    control = [written(i) for i in sorted(lost)]
    result = compare(control, [], OPTS, Scope(now=LATER, position=position(expired={0: 2})))
    assert (result.count(Category.EXPIRED), result.count(Category.MISSING)) == (2, 3)


def test_a_key_older_than_the_oldest_remaining_record_expired_a_newer_one_is_pending() -> None:
    """Kafka deletes from the log start: the records it deleted are older than the first it
    kept, which the group has not read yet (so newer keys are behind the watermark)."""
    in_zero = keys_in(0, 40)
    old = in_zero[0]
    new = next(i for i in in_zero if i > old + 4 * SETTLE.total_seconds())
    first_left = T0 + timedelta(seconds=new - 1)
    scope = Scope(now=LATER, position=position(expired={0: 5}, behind={0: first_left}))
    got = judged([written(old), written(new)], [], scope)
    assert got == {key(old): Category.EXPIRED, key(new): Category.PENDING}


def test_keys_written_in_sync_never_expire() -> None:
    (i,) = keys_in(0, 1)
    scope = Scope(now=LATER, modes=DUAL_WRITE_MODES, position=position(expired={0: 1}))
    got = judged([written(i, "sync")], [], scope)
    assert got == {key(i): Category.OUT_OF_SCOPE}


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.integers(1, 400), unique=True, max_size=40),
    st.lists(st.integers(0, 6), min_size=PARTS, max_size=PARTS),
)
def test_expired_per_partition_never_exceeds_the_records_deleted(
    ids: list[int], lost: list[int]
) -> None:
    control = sorted((written(i) for i in ids), key=lambda o: o.key)
    pos = position(expired=dict(enumerate(lost)))
    results = list(observe(control, [], OPTS, Scope(now=LATER, position=pos)))
    per = {p: 0 for p in range(PARTS)}
    for r in results:
        if r.category is Category.EXPIRED:
            per[partition_for(r.key, PARTS)] += 1
    for p in range(PARTS):
        in_partition = sum(partition_for(key(i), PARTS) == p for i in ids)
        assert per[p] == min(lost[p], in_partition)
    assert all(r.category in (Category.EXPIRED, Category.MISSING) for r in results)


# --- repair ---------------------------------------------------------------------------------


def test_repair_proposes_events_for_missing_and_expired_keys_only() -> None:
    (lost,) = keys_in(0, 1)
    (gone,) = keys_in(1, 1)
    (quiet,) = keys_in(2, 1)
    control = sorted([written(lost), written(gone), written(quiet, "sync")], key=lambda o: o.key)
    scope = Scope(now=LATER, modes=DUAL_WRITE_MODES, position=position(expired={0: 1}))
    results = list(observe(control, [], OPTS, scope))
    plan = propose(results, "order.created", "run-1")
    assert {r.key: r.category for r in results} == {
        key(lost): Category.EXPIRED,
        key(gone): Category.MISSING,
        key(quiet): Category.OUT_OF_SCOPE,
    }
    assert sorted(e.aggregateid for e in plan.events) == sorted([key(lost), key(gone)])


# --- the Java partitioner -------------------------------------------------------------------


def test_murmur2_matches_kafkas_own_test_vectors() -> None:
    """``org.apache.kafka.common.utils.UtilsTest#testMurmur2``."""
    vectors = {
        b"21": -973932308,
        b"foobar": -790332482,
        b"a-little-bit-long-string": -985981536,
        b"a-little-bit-longer-string": -1486304829,
        b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
        b"abc": 479470107,
        bytes([12, 42, 56, 24, 109, 111]): 274204207,
    }
    assert {data: murmur2(data) for data in vectors} == vectors


def test_partition_is_the_positive_hash_modulo_the_partitions() -> None:
    assert partition_for("21", 7) == (-973932308 & 0x7FFFFFFF) % 7
    assert key_bytes("ord-1", "json") == b'"ord-1"'
    assert partition_for("ord-1", 6, "json") == (murmur2(b'"ord-1"') & 0x7FFFFFFF) % 6


@given(st.text(max_size=40), st.integers(1, 64))
def test_every_key_lands_in_a_partition_of_the_topic(text: str, partitions: int) -> None:
    assert 0 <= partition_for(text, partitions) < partitions


# --- the capture side: the newest heartbeat seen end to end ---------------------------------


def test_a_stale_heartbeat_holds_the_watermark_when_nothing_is_behind() -> None:
    """Kafka Connect frozen: the group read everything in Kafka, but nothing new came in."""
    captured = T0 + timedelta(seconds=50)
    pos = replace(position(observed_at=LATER), captured_at=captured)
    assert pos.watermark == captured and pos.lag_ms == 0.0
    got = judged([written(1), written(100)], [], Scope(now=LATER, position=pos))
    assert got == {key(1): Category.MISSING, key(100): Category.PENDING}


def test_the_watermark_is_the_earlier_of_consumed_and_captured() -> None:
    behind = {0: T0 + timedelta(seconds=20)}
    pos = replace(position(behind=behind), captured_at=T0 + timedelta(seconds=40))
    assert pos.watermark == T0 + timedelta(seconds=20)
    assert pos.lag_ms == (LATER - behind[0]).total_seconds() * 1000


def test_a_heartbeat_time_is_its_commit_time_else_its_row_else_the_record() -> None:
    ms = int(T0.timestamp() * 1000)
    committed = {"after": {"id": 1, "ts": "2026-01-01T00:00:09Z"}, "source": {"ts_ms": ms + 5000}}
    assert heartbeat_time(json.dumps(committed).encode(), (1, 1)) == T0.replace(second=5)
    row_only = {"after": {"id": 1, "ts": "2026-01-01T00:00:09Z"}}
    assert heartbeat_time(json.dumps(row_only).encode(), (1, 1)) == T0.replace(second=9)
    assert heartbeat_time(b"not json", (1, ms + 3000)) == T0.replace(second=3)
    assert heartbeat_time(None, (0, -1)) is None
