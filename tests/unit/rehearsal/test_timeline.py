"""The rehearsal's time series: ticks from probes, gaps where a probe could not read."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from rehearsal.timeline import Lag, Timeline, phase_ticks, series


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


class FakeProbes:
    def __init__(self) -> None:
        self.lag_fails = False
        self.windows: list[tuple[int, float]] = []

    def lag(self) -> Lag:
        if self.lag_fails:
            raise ConnectionError("broker unreachable")
        return Lag(12, 340.0, 1)

    def end_to_end(self, since: datetime) -> tuple[float, float] | None:
        return (85.04, 412.36)

    def comparison(self, phase: int, window_s: float) -> tuple[int, int] | None:
        self.windows.append((phase, window_s))
        return (40, 2) if phase == 3 else None


class Answer:
    def __init__(self, ok: bool) -> None:
        self.as_expected = ok


def timeline() -> tuple[Timeline, FakeProbes, FakeClock]:
    probes, clock = FakeProbes(), FakeClock()
    return Timeline(probes, interval=3.0, clock=clock, now=lambda: datetime.now(UTC)), probes, clock


def test_a_tick_counts_the_requests_and_errors_since_the_last_one() -> None:
    tl, _, clock = timeline()
    tl.enter(3)
    for ok in (True, True, False):
        tl.on_sample(Answer(ok))
    clock.t += 3
    first = tl.tick()
    clock.t += 3
    second = tl.tick()
    assert (first.requests, first.errors) == (3, 1) and (second.requests, second.errors) == (0, 0)
    assert first.at == 3.0 and first.phase == 3


def test_a_tick_reads_lag_end_to_end_and_the_phases_comparison() -> None:
    tl, probes, clock = timeline()
    tl.enter(3)
    clock.t += 10
    tick = tl.tick()
    assert (tick.lag_messages, tick.lag_ms, tick.dead_lettered) == (12, 340.0, 1)
    assert (tick.e2e_p50_ms, tick.e2e_p99_ms) == (85.0, 412.4)
    assert (tick.matched, tick.mismatched) == (40, 2)
    assert probes.windows == [(3, 15.0)]  # the phase so far, plus a margin


def test_a_probe_that_cannot_read_leaves_a_gap_not_a_zero() -> None:
    tl, probes, clock = timeline()
    probes.lag_fails = True
    clock.t += 3
    tick = tl.tick()
    assert tick.lag_messages is None and tick.lag_ms is None and tick.dead_lettered is None
    assert tick.e2e_p50_ms == 85.0


def test_faults_are_marked_with_their_phase_and_time() -> None:
    tl, _, clock = timeline()
    tl.enter(4)
    clock.t += 7.5
    tl.mark("downstream_errors")
    assert tl.to_dict()["marks"] == [{"at": 7.5, "phase": 4, "label": "downstream_errors"}]


def test_a_phase_that_resumed_later_is_drawn_with_a_break() -> None:
    tl, _, clock = timeline()
    for phase, requests in ((4, 5), (4, 6), (40, 7), (4, 0), (4, 8)):
        tl.enter(phase)
        for _ in range(requests):
            tl.on_sample(Answer(True))
        clock.t += 3
        tl.tick()
    points = series(phase_ticks(tl.to_dict(), 4), "requests", interval=3.0)
    assert points == ((3.0, 5.0), (6.0, 6.0), (9.0, None), (12.0, 0.0), (15.0, 8.0))


def test_a_slow_tick_is_not_a_break_and_a_sparse_field_skips_unread_ticks() -> None:
    ticks: list[dict[str, Any]] = [
        {"at": 3.0, "phase": 3, "matched": 10, "lag_ms": 5.0},
        {"at": 14.0, "phase": 3, "matched": None, "lag_ms": 6.0},
        {"at": 17.0, "phase": 3, "matched": 30, "lag_ms": None},
    ]
    assert series(ticks, "lag_ms", interval=3.0) == ((3.0, 5.0), (14.0, 6.0), (17.0, None))
    assert series(ticks, "matched", interval=9.0, sparse=True) == ((3.0, 10.0), (17.0, 30.0))


def test_the_sampler_thread_ticks_until_stopped() -> None:
    tl = Timeline(FakeProbes(), interval=0.01)
    tl.start()
    deadline = time.monotonic() + 10
    while len(tl.ticks) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    tl.stop()
    n = len(tl.ticks)
    assert n >= 2 and len(tl.to_dict()["ticks"]) == n
