"""comparators.position_kafka on the real Kafka: committed offsets, the log start after
``delete_records``, lag from the log start, expired records, lag in time, live members."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from comparators.position_kafka import read_position
from rehearsal.stack.endpoints import Endpoints

N = 10
CONSUMED = 4
DELETED_TO = 7


@pytest.fixture
def topic(endpoints: Endpoints, unique: str) -> Iterator[str]:
    from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

    admin = AdminClient({"bootstrap.servers": endpoints.bootstrap_servers})
    name = f"t{unique}.position"
    admin.create_topics([NewTopic(name, num_partitions=2, replication_factor=1)])[name].result()
    yield name
    admin.delete_topics([name], operation_timeout=30)[name].result()


def test_position_after_records_deleted_unread(
    endpoints: Endpoints, topic: str, unique: str
) -> None:
    from confluent_kafka import Consumer, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient

    conf = {"bootstrap.servers": endpoints.bootstrap_servers}
    group = f"t-{unique}-position"
    base_ms = int(time.time() * 1000) - 60_000
    producer = Producer(conf)
    for i in range(N):
        producer.produce(topic, key=f"k{i}", value=b"{}", partition=0, timestamp=base_ms + i * 1000)
    producer.flush(10)

    consumer = Consumer({**conf, "group.id": group, "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, 0, 0)])
    read = 0
    while read < CONSUMED:
        msg = consumer.poll(5)
        assert msg is not None and msg.error() is None
        read += 1
    consumer.commit(offsets=[TopicPartition(topic, 0, CONSUMED)], asynchronous=False)
    consumer.close()
    admin = AdminClient(conf)
    deleted = admin.delete_records([TopicPartition(topic, 0, DELETED_TO)])
    for future in deleted.values():
        future.result()

    started = time.monotonic()
    pos = read_position(conf, topic, group, timeout_s=10)
    elapsed = time.monotonic() - started
    (p0, p1) = pos.partitions
    assert (p0.committed, p0.log_start, p0.high) == (CONSUMED, DELETED_TO, N)
    assert (p1.committed, p1.log_start, p1.high) == (None, 0, 0)
    assert (pos.lag_messages, pos.expired) == (N - DELETED_TO, DELETED_TO - CONSUMED)
    assert p0.oldest_unconsumed_at == datetime.fromtimestamp(
        (base_ms + DELETED_TO * 1000) / 1000, UTC
    )
    expected_ms = (pos.observed_at - p0.oldest_unconsumed_at).total_seconds() * 1000
    assert pos.lag_ms == pytest.approx(expected_ms)
    assert 50_000 < pos.lag_ms < 70_000
    assert pos.members == 0
    assert elapsed < 8, elapsed

    # Caught up: nothing behind is 0 ms; a live subscriber is a member.
    live = Consumer({**conf, "group.id": group, "enable.auto.commit": False})
    live.subscribe([topic])
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not live.assignment():
            live.poll(0.2)
        live.commit(offsets=[TopicPartition(topic, 0, N)], asynchronous=False)
        caught_up = read_position(conf, topic, group, timeout_s=10)
    finally:
        live.close()
    assert (caught_up.lag_messages, caught_up.lag_ms, caught_up.expired) == (0, 0.0, 0)
    assert caught_up.members == 1
