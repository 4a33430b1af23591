"""The dead-letter topic on Kafka (confluent-kafka): read it whole, its watermarks, the first
offsets after a time, ``delete_records``, and re-publishing an original record.

Reads assign every partition from its log start to the high watermark seen when the read
began (no consumer group, nothing committed), so a listing is a snapshot of the topic.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from shadow.errors import KafkaOperationError
from shadow.kafka import _raw
from shadow.messages import RawMessage

TIMEOUT_S = 10.0
Watermarks = dict[int, tuple[int, int]]
"""Per partition, its log start and high watermark."""


def _probe(bootstrap_servers: str) -> Any:
    return Consumer(
        {
            "bootstrap.servers": bootstrap_servers,
            "group.id": "cutover.shadow.dlq-reader",
            "enable.auto.commit": False,
            "enable.partition.eof": False,
        }
    )


def _watermarks(consumer: Any, topic: str) -> Watermarks:
    meta = consumer.list_topics(topic, timeout=TIMEOUT_S).topics.get(topic)
    if meta is None or meta.error is not None:
        return {}
    return {
        p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=TIMEOUT_S, cached=False)
        for p in sorted(meta.partitions)
    }


def watermarks(bootstrap_servers: str, topic: str) -> Watermarks:
    """Log start and high watermark per partition (empty when the topic does not exist)."""
    consumer = _probe(bootstrap_servers)
    try:
        return _watermarks(consumer, topic)
    except KafkaException as exc:
        raise KafkaOperationError("watermarks", str(exc)) from exc
    finally:
        consumer.close()


def read_all(bootstrap_servers: str, topic: str, *, timeout: float = 30.0) -> list[RawMessage]:
    """Every record of ``topic`` up to the high watermarks seen now, partition by partition."""
    consumer = _probe(bootstrap_servers)
    try:
        ends = {p: high for p, (low, high) in _watermarks(consumer, topic).items() if high > low}
        if not ends:
            return []
        consumer.assign([TopicPartition(topic, p, 0) for p in ends])  # 0: from the log start
        out: list[RawMessage] = []
        idle = 0.0
        while ends and idle < timeout:
            msgs = consumer.consume(500, 0.5)
            idle = idle + 0.5 if not msgs else 0.0
            for m in msgs:
                if m.error() is not None or m.partition() not in ends:
                    continue
                out.append(_raw(m))
                if m.offset() + 1 >= ends[m.partition()]:
                    del ends[m.partition()]
        if ends:
            raise KafkaOperationError("read", f"{topic}: partitions {sorted(ends)} not read whole")
        return sorted(out, key=lambda m: (m.partition, m.offset))
    except KafkaException as exc:
        raise KafkaOperationError("read", str(exc)) from exc
    finally:
        consumer.close()


def offsets_after(bootstrap_servers: str, topic: str, since_ms: int) -> dict[int, int]:
    """Per partition, the first offset written at or after ``since_ms`` (the high watermark
    when none is that late)."""
    consumer = _probe(bootstrap_servers)
    try:
        marks = _watermarks(consumer, topic)
        if not marks:
            return {}
        found = consumer.offsets_for_times(
            [TopicPartition(topic, p, since_ms) for p in marks], timeout=TIMEOUT_S
        )
        return {p.partition: p.offset if p.offset >= 0 else marks[p.partition][1] for p in found}
    except KafkaException as exc:
        raise KafkaOperationError("offsets_for_times", str(exc)) from exc
    finally:
        consumer.close()


def delete_records(bootstrap_servers: str, topic: str, up_to: Mapping[int, int]) -> None:
    """Kafka's deleteRecords: remove every record of ``topic`` before ``up_to[partition]``."""
    if not up_to:
        return
    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    futures = admin.delete_records([TopicPartition(topic, p, o) for p, o in up_to.items()])
    for fut in futures.values():
        try:
            fut.result(30)
        except KafkaException as exc:
            raise KafkaOperationError("delete_records", str(exc)) from exc


def republish(bootstrap_servers: str, records: list[RawMessage]) -> int:
    """Produce each original record again to its topic (key, value, headers as they were);
    returns how many were delivered."""
    producer = Producer({"bootstrap.servers": bootstrap_servers, "enable.idempotence": True})
    failed: list[str] = []

    def delivered(err: Any, _msg: Any) -> None:
        if err is not None:
            failed.append(str(err))

    for m in records:
        producer.produce(
            m.topic, key=m.key, value=m.value, headers=list(m.headers), on_delivery=delivered
        )
        producer.poll(0)
    left = producer.flush(30)
    if failed or left:
        raise KafkaOperationError("republish", failed[0] if failed else f"{left} undelivered")
    return len(records)
