from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from comparators.diff import Observation
from comparators.rules import CompareOptions
from comparators.sources import InMemorySource
from comparators.watch import FileWatermarkStore, InMemoryWatermarkStore, WatchState, watch_step
from tests.unit.comparators.factories import T0, obs

OPTS = CompareOptions(settle=timedelta(seconds=5))


def _sources(n: int) -> tuple[InMemorySource, InMemorySource]:
    control = [obs(i, at=T0 + timedelta(seconds=i)).record for i in range(1, n + 1)]
    candidate = [
        obs(i, at=T0 + timedelta(seconds=i, milliseconds=100), source="event").record
        for i in range(1, n + 1)
        if i != 4
    ]
    return InMemorySource(control), InMemorySource(candidate)


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
