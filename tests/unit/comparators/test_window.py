"""A comparison over a look-back window: keys are in by their control's time, and the
other side of a key at the window's edge is still read."""

from __future__ import annotations

import io
from datetime import timedelta

from comparators.commands import run_compare
from comparators.plan import CompareConfig
from comparators.rules import CompareOptions
from comparators.sources import InMemorySource
from tests.unit.comparators.factories import T0, outcome

NOW = T0 + timedelta(minutes=10)


def config(control: list, candidate: list, window: timedelta | None) -> CompareConfig:
    return CompareConfig(
        context="order",
        control=InMemorySource(control, name="sync", key="order_id"),
        candidate=InMemorySource(candidate, name="event", key="order_id"),
        options=CompareOptions(ignore=("produced_at", "source"), key="order_id"),
        window=window,
    )


def test_a_key_is_in_the_window_by_its_control_and_its_early_candidate_is_still_read() -> None:
    edge = outcome(1, at=NOW - timedelta(seconds=50))
    early = outcome(1, source="event", at=NOW - timedelta(seconds=70))  # before the window
    old = outcome(2, at=NOW - timedelta(seconds=90))
    old_late = outcome(2, source="event", at=NOW - timedelta(seconds=30))  # in, but key is not
    only_candidate = outcome(3, source="event", at=NOW - timedelta(seconds=20))
    run = run_compare(
        config([edge, old], [early, old_late, only_candidate], timedelta(seconds=60)),
        now=NOW,
        stdout=io.StringIO(),
        as_json=True,
    )
    assert run.result.settled == 2
    assert dict(run.result.counts) == {"match": 1, "extra": 1}


def test_without_a_window_every_key_on_record_is_judged() -> None:
    keys = [outcome(i, at=NOW - timedelta(days=i)) for i in range(1, 4)]
    events = [outcome(i, source="event", at=NOW - timedelta(days=i)) for i in range(1, 4)]
    run = run_compare(config(keys, events, None), now=NOW, stdout=io.StringIO(), as_json=True)
    assert run.result.settled == 3 and dict(run.result.counts) == {"match": 3}
