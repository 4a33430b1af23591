"""The consumer adapter's rejoin watchdog, over a stand-in for ``confluent_kafka.Consumer``."""

from __future__ import annotations

import time
from typing import Any

from confluent_kafka import TopicPartition

from shadow.kafka import KafkaConsumerAdapter


class StandIn:
    """Records what the adapter does with a consumer; fires the callbacks it was given."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.callbacks: dict[str, Any] = {}
        self.topics: list[str] = []
        self.closed = False

    def subscribe(self, topics: list[str], **callbacks: Any) -> None:
        self.topics, self.callbacks = topics, callbacks

    def consume(self, _n: int, _timeout: float) -> list[Any]:
        return []

    def close(self) -> None:
        self.closed = True

    def fire(self, name: str, *partitions: int) -> None:
        self.callbacks[name](self, [TopicPartition("t", p) for p in partitions])


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def adapter() -> tuple[KafkaConsumerAdapter, list[StandIn], Clock, list[str]]:
    made: list[StandIn] = []
    clock = Clock()
    seen: list[str] = []

    def factory(config: dict[str, Any]) -> StandIn:
        made.append(StandIn(config))
        return made[-1]

    a = KafkaConsumerAdapter({"group.id": "g"}, rejoin_timeout=90, clock=clock, factory=factory)
    a.subscribe(
        ["t"],
        on_assign=lambda tps: seen.append(f"assign {tps}"),
        on_revoke=lambda tps: seen.append(f"revoke {tps}"),
    )
    return a, made, clock, seen


def test_a_lost_assignment_without_a_new_one_in_time_gets_a_fresh_consumer() -> None:
    a, made, clock, seen = adapter()
    made[0].fire("on_assign", 0, 1)
    made[0].fire("on_lost", 0, 1)
    assert seen == ["assign [('t', 0), ('t', 1)]", "revoke [('t', 0), ('t', 1)]"]
    clock.now += 89
    a.consume(10, 0.1)
    assert len(made) == 1
    clock.now += 2
    a.consume(10, 0.1)
    assert len(made) == 2 and made[1].topics == ["t"] and made[1].config == {"group.id": "g"}
    deadline = time.monotonic() + 5
    while not made[0].closed and time.monotonic() < deadline:
        time.sleep(0.01)
    assert made[0].closed  # in the background
    made[1].fire("on_assign", 0, 1)
    clock.now += 1000
    a.consume(10, 0.1)
    assert len(made) == 2  # joined: the watchdog is off again


def test_an_ordinary_revocation_or_a_slow_first_join_does_not_replace_the_consumer() -> None:
    a, made, clock, _seen = adapter()
    clock.now += 1000  # no assignment yet: joining a busy group may take long
    a.consume(10, 0.1)
    made[0].fire("on_assign", 0)
    made[0].fire("on_revoke", 0)  # a rebalance
    clock.now += 1000
    a.consume(10, 0.1)
    assert len(made) == 1
