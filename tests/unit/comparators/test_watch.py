from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from comparators.diff import Observation, Scope, compare
from comparators.invariants import resolve_all
from comparators.position import PartitionPosition, PipelinePosition
from comparators.rules import CompareOptions
from comparators.sources import InMemorySource, ReadWindow
from comparators.watch import FileWatermarkStore, InMemoryWatermarkStore, WatchState, watch_step
from legacy_app.outcome import Payment
from tests.unit.comparators.factories import T0, obs

OPTS = CompareOptions(settle=timedelta(seconds=5), key="order_id")


def _sources(n: int) -> tuple[InMemorySource, InMemorySource]:
    control = [obs(i, at=T0 + timedelta(seconds=i)).record for i in range(1, n + 1)]
    candidate = [
        obs(i, at=T0 + timedelta(seconds=i, milliseconds=100), source="event").record
        for i in range(1, n + 1)
        if i != 4
    ]
    return InMemorySource(control, key="order_id"), InMemorySource(candidate, key="order_id")


def test_steps_judge_each_key_once_as_windows_close() -> None:
    control, candidate = _sources(10)
    state = WatchState()
    step1 = watch_step(control, candidate, OPTS, state, T0 + timedelta(seconds=8))
    # keys 1..3 settled (at + 5 <= 8), 4..10 pending
    assert step1.increment.settled == 3 and step1.pending == 7
    step2 = watch_step(control, candidate, OPTS, step1.state, T0 + timedelta(seconds=20))
    assert step2.increment.settled == 7 and step2.pending == 0
    assert step2.state.result.settled == 10
    assert step2.state.result.count("missing") == 1
    step3 = watch_step(control, candidate, OPTS, step2.state, T0 + timedelta(seconds=30))
    assert step3.increment.settled == 0 and step3.state.result.settled == 10
    assert step3.state.steps == 3


def test_state_survives_a_file_store(tmp_path: Path) -> None:
    control, candidate = _sources(5)
    step = watch_step(control, candidate, OPTS, WatchState(), T0 + timedelta(seconds=60))
    store = FileWatermarkStore(tmp_path)
    store.save("order", step.state)
    again = store.load("order")
    assert again.watermark == step.state.watermark
    assert again.result.counts == step.state.result.counts
    assert FileWatermarkStore(tmp_path).load("other") == WatchState()


def test_in_memory_store() -> None:
    store = InMemoryWatermarkStore()
    store.save("x", WatchState(watermark=T0, steps=2))
    assert store.load("x").steps == 2


def test_observation_type_is_used() -> None:
    assert isinstance(obs(1), Observation)


def _late(seconds_after_control: float) -> tuple[InMemorySource, InMemorySource]:
    """Keys 1..10 a second apart; key 4's candidate arrives ``seconds_after_control`` late."""
    control = [obs(i, at=T0 + timedelta(seconds=i)).record for i in range(1, 11)]
    candidate = [
        obs(i, at=T0 + timedelta(seconds=i, milliseconds=100), source="event").record
        for i in range(1, 11)
        if i != 4
    ]
    late = obs(4, at=T0 + timedelta(seconds=4 + seconds_after_control), source="event").record
    return InMemorySource(control, key="order_id"), InMemorySource(
        [*candidate, late], key="order_id"
    )


def test_a_candidate_arriving_after_its_key_was_judged_missing_turns_it_late() -> None:
    control, with_late = _late(600)
    _, without = _sources(10)
    first = watch_step(control, without, OPTS, WatchState(), T0 + timedelta(seconds=60))
    assert first.state.result.count("missing") == 1 and "ord-000004" in first.state.missing

    # ten minutes on, the control of key 4 is far behind the lookback: still read, re-judged
    later = watch_step(control, with_late, OPTS, first.state, T0 + timedelta(seconds=700))
    result = later.state.result
    assert (result.settled, result.count("missing"), result.count("extra")) == (10, 0, 0)
    assert result.count("late") == 1 and result.matched == 10
    assert sum(s for _start, s, _m in result.timeline) == 10
    assert [s.key for s in result.samples if s.category == "missing"] == []
    assert later.state.missing == {}


def test_a_key_still_missing_is_counted_once_and_forgotten_after_the_late_limit() -> None:
    control, candidate = _sources(10)
    state = watch_step(control, candidate, OPTS, WatchState(), T0 + timedelta(seconds=60)).state
    for minutes in (5, 30, 59):
        state = watch_step(control, candidate, OPTS, state, T0 + timedelta(minutes=minutes)).state
        assert state.result.count("missing") == 1 and state.result.settled == 10
    assert list(state.missing) == ["ord-000004"]
    state = watch_step(control, candidate, OPTS, state, T0 + timedelta(minutes=61)).state
    assert state.missing == {} and state.result.count("missing") == 1


def test_remembered_missing_keys_survive_a_file_store(tmp_path: Path) -> None:
    control, candidate = _sources(5)
    step = watch_step(control, candidate, OPTS, WatchState(), T0 + timedelta(seconds=60))
    FileWatermarkStore(tmp_path).save("order", step.state)
    assert FileWatermarkStore(tmp_path).load("order").missing == step.state.missing != {}


def test_a_control_invariant_of_a_key_judged_again_is_counted_once() -> None:
    underpaid = Payment(Decimal("1.00"), "captured", 1)
    control = InMemorySource([obs(1, at=T0, payment=underpaid).record], key="order_id")
    late = obs(1, at=T0 + timedelta(minutes=5), source="event", payment=underpaid).record
    invariants = resolve_all(["legacy_app.invariants:payment_equals_total"])
    first = watch_step(
        control, InMemorySource([], key="order_id"), OPTS, WatchState(), T0 + timedelta(seconds=60),
        invariants=invariants,
    )  # fmt: skip
    assert dict(first.state.result.violations) == {
        "legacy_app.invariants:payment_equals_total@control": 1
    }
    later = watch_step(
        control, InMemorySource([late], key="order_id"), OPTS, first.state, T0 + timedelta(minutes=10),
        invariants=invariants,
    )  # fmt: skip
    assert later.state.result.count("missing") == 0
    assert dict(later.state.result.violations) == {
        "legacy_app.invariants:payment_equals_total@control": 1,
        "legacy_app.invariants:payment_equals_total@candidate": 1,
    }


def _caught_up(at: datetime, behind_from: datetime | None = None) -> PipelinePosition:
    """One partition, behind from ``behind_from`` when given, read at ``at``."""
    lag = 1 if behind_from else 0
    return PipelinePosition("t", "g", at, (PartitionPosition(0, 9, 0, 9 + lag, behind_from),), 1)


def test_a_key_behind_the_pipeline_waits_and_is_judged_once_when_reached() -> None:
    control, candidate = _sources(6)  # key 4 never gets a candidate
    at = T0 + timedelta(seconds=60)
    step1 = watch_step(control, candidate, OPTS, WatchState(), at, position=_caught_up(at, T0))
    assert step1.increment.count("missing") == 0 and step1.pending == 1
    assert list(step1.state.waiting) == ["ord-000004"]
    later = at + timedelta(seconds=30)
    step2 = watch_step(control, candidate, OPTS, step1.state, later, position=_caught_up(later))
    assert step2.increment.count("missing") == 1 and step2.state.waiting == {}
    assert step2.state.result.count("missing") == 1 and step2.state.result.settled == 6
    again = WatchState.from_dict(step1.state.to_dict())
    assert again.waiting == step1.state.waiting


def test_keys_written_in_sync_are_counted_out_of_scope_once() -> None:
    rows = [{**obs(i, at=T0 + timedelta(seconds=i)).record, "write_mode": "sync"} for i in (1, 2)]
    control, candidate = InMemorySource(rows, key="order_id"), InMemorySource([], key="order_id")
    modes = frozenset({"dual"})
    step1 = watch_step(
        control, candidate, OPTS, WatchState(), T0 + timedelta(seconds=10), modes=modes
    )
    step2 = watch_step(
        control, candidate, OPTS, step1.state, T0 + timedelta(seconds=40), modes=modes
    )
    assert step2.state.result.count("out_of_scope") == 2
    assert step2.state.result.count("missing") == 0


@settings(max_examples=40, deadline=None)
@given(
    st.sets(st.integers(1, 30)),
    st.lists(st.tuples(st.integers(0, 40), st.integers(0, 40)), min_size=1, max_size=6),
)
def test_steps_behind_a_moving_watermark_add_up_to_one_comparison(
    answered: set[int], ticks: list[tuple[int, int]]
) -> None:
    """However the pipeline's watermark moves between steps, every key is counted once: the
    watcher's total equals one comparison made once the pipeline caught up."""
    control = [obs(i, at=T0 + timedelta(seconds=i)).record for i in range(1, 31)]
    candidate = [
        obs(i, at=T0 + timedelta(seconds=i, milliseconds=100), source="event").record
        for i in sorted(answered)
    ]
    sources = InMemorySource(control, key="order_id"), InMemorySource(candidate, key="order_id")
    state, now = WatchState(), T0
    for step, (advance, behind) in enumerate(ticks):
        now += timedelta(seconds=advance + 1)
        oldest = now - timedelta(seconds=behind) if behind else None
        state = watch_step(*sources, OPTS, state, now, position=_caught_up(now, oldest)).state
        assert state.steps == step + 1
    end = now + timedelta(minutes=5)
    state = watch_step(*sources, OPTS, state, end, position=_caught_up(end)).state
    once = compare(
        sources[0].observations(ReadWindow()),
        sources[1].observations(ReadWindow()),
        OPTS,
        Scope(now=end, position=_caught_up(end)),
    )
    assert dict(state.result.counts) == dict(once.counts)
    assert state.waiting == {}
