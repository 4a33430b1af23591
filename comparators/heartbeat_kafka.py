"""Reads how far the connector has captured: the newest heartbeat it put in Kafka (I/O).

The outbox connector runs a heartbeat action query that upserts a timestamp into a table it
captures (:class:`cdc.debezium.HeartbeatOptions`), so a heartbeat travels the path an outbox
row does: database commit -> WAL -> Debezium -> Kafka. The newest heartbeat on its topic
(``<connector topic prefix>.public.debezium_heartbeat``) therefore says that everything
committed before it was captured; with Kafka Connect frozen it stops advancing, and the
comparators keep keys written since ``pending`` instead of judging them ``missing``.

The time is the heartbeat's commit time in the database (Debezium's ``source.ts_ms``), else
the row's ``ts`` column, else the Kafka record's timestamp.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from comparators.values import parse_time

READ_TIMEOUT_S = 3.0
"""The longest the reader waits for the newest records."""
TAIL = 3
"""Records read back from the end of each partition (transaction markers take offsets)."""


def read_captured_at(
    conf: Mapping[str, Any], topic: str, *, timeout_s: float = READ_TIMEOUT_S
) -> datetime | None:
    """The newest heartbeat time on ``topic``; ``None`` when it has none (or no such topic)."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(
        {
            **conf,
            "group.id": f"cutover-heartbeat-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
        }
    )
    try:
        meta = consumer.list_topics(topic, timeout=timeout_s).topics.get(topic)
        if meta is None or meta.error is not None or not meta.partitions:
            return None
        ends: dict[int, int] = {}
        starts: list[Any] = []
        for p in sorted(meta.partitions):
            low, high = consumer.get_watermark_offsets(
                TopicPartition(topic, p), timeout=timeout_s, cached=False
            )
            if high > low:
                ends[p] = high
                starts.append(TopicPartition(topic, p, max(low, high - TAIL)))
        if not ends:
            return None
        consumer.assign(starts)
        return _newest(consumer, ends, timeout_s)
    finally:
        consumer.close()


def _newest(consumer: Any, ends: Mapping[int, int], timeout_s: float) -> datetime | None:
    """Poll the tails; the newest heartbeat time once every partition gave its last data
    record — at ``high - 1``, or at ``high - 2`` when an idle poll shows a transaction marker
    took the last offset — or when the time ran out."""
    newest: datetime | None = None
    last: dict[int, int] = {}
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if all(last.get(p, -1) >= end - 1 for p, end in ends.items()):
            break
        near_end = all(last.get(p, -1) >= end - 2 for p, end in ends.items())
        msg = consumer.poll(0.3 if near_end else 0.2)
        if msg is None:
            if near_end:
                break  # nothing after the second-to-last offset: a marker holds the last
            continue
        if msg.error() is not None:
            continue
        last[msg.partition()] = msg.offset()
        at = heartbeat_time(msg.value(), msg.timestamp())
        if at is not None and (newest is None or at > newest):
            newest = at
    return newest


def heartbeat_time(value: bytes | None, timestamp: tuple[int, int]) -> datetime | None:
    """The commit time a heartbeat change event carries (see the module docstring)."""
    try:
        doc = json.loads(value) if value else None
    except ValueError:
        doc = None
    if isinstance(doc, Mapping):
        envelope = doc.get("payload", doc) if "payload" in doc else doc
        source = envelope.get("source") if isinstance(envelope, Mapping) else None
        if isinstance(source, Mapping) and isinstance(source.get("ts_ms"), int | float):
            return datetime.fromtimestamp(source["ts_ms"] / 1000, UTC)
        after = envelope.get("after") if isinstance(envelope, Mapping) else None
        if isinstance(after, Mapping) and (at := parse_time(after.get("ts"))) is not None:
            return at
    kind, ms = timestamp
    return datetime.fromtimestamp(ms / 1000, UTC) if kind and ms > 0 else None
