"""Reads a :class:`~comparators.position.PipelinePosition` from Kafka (confluent-kafka).

Per partition of the topic: the group's committed offset, the log-start offset (``low`` of
``get_watermark_offsets``: what retention or ``delete_records`` left) and the high
watermark; for each partition the group is behind on, the timestamp of the record at its
consume position (assigned, sought, one record consumed — never committed); and the group's
live members (``AdminClient.describe_consumer_groups``). The reader never joins the group
(it assigns, it does not subscribe), so reading disturbs no running consumer.

Failures to reach Kafka raise :class:`~comparators.errors.SourceError` (side ``kafka``);
a member count that cannot be read leaves ``members`` ``None``, and a behind partition
whose record could not be fetched in time leaves its timestamp ``None`` (the position's
watermark is then not known).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from comparators.errors import SourceError
from comparators.position import PartitionPosition, PipelinePosition

FETCH_TIMEOUT_S = 5.0
"""The longest the reader waits for the records at the consume positions."""


def read_position(
    conf: Mapping[str, Any],
    topic: str,
    group: str,
    *,
    timeout_s: float = 10.0,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> PipelinePosition:
    """Where ``group`` stands on ``topic`` now (see the module's docstring)."""
    from confluent_kafka import Consumer, KafkaException

    consumer = Consumer(
        {
            **conf,
            "group.id": group,
            "client.id": f"cutover-position-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "enable.partition.eof": False,
        }
    )
    try:
        offsets = _offsets(consumer, topic, timeout_s)
        observed_at = clock()
        behind = {
            p: pos
            for p, (committed, low, high) in offsets.items()
            if (pos := _position(committed, low)) < high
        }
        stamps = _timestamps(consumer, topic, behind, min(timeout_s, FETCH_TIMEOUT_S))
    except KafkaException as exc:
        raise SourceError(
            "kafka", f"cannot read {topic} for group {group}: {exc}", unreachable=True
        ) from exc
    finally:
        consumer.close()
    members, state = group_members(conf, group, timeout_s=timeout_s)
    parts = tuple(
        PartitionPosition(p, committed, low, high, stamps.get(p))
        for p, (committed, low, high) in sorted(offsets.items())
    )
    return PipelinePosition(
        topic, group, observed_at, parts, members, {"group_state": state} if state else {}
    )


def _position(committed: int | None, low: int) -> int:
    return max(committed if committed is not None else 0, low)


def _offsets(consumer: Any, topic: str, timeout_s: float) -> dict[int, tuple[int | None, int, int]]:
    """partition -> (committed or None, log start, high watermark); empty for no topic."""
    from confluent_kafka import TopicPartition

    meta = consumer.list_topics(topic, timeout=timeout_s).topics.get(topic)
    if meta is None or meta.error is not None:
        return {}
    tps = [TopicPartition(topic, p) for p in sorted(meta.partitions)]
    if not tps:
        return {}
    out: dict[int, tuple[int | None, int, int]] = {}
    for tp in consumer.committed(tps, timeout=timeout_s):
        low, high = consumer.get_watermark_offsets(
            TopicPartition(topic, tp.partition), timeout=timeout_s, cached=False
        )
        out[tp.partition] = (tp.offset if tp.offset >= 0 else None, low, high)
    return out


def _timestamps(
    consumer: Any, topic: str, positions: Mapping[int, int], timeout_s: float
) -> dict[int, datetime]:
    """The timestamp of the record at each partition's position (those that came in time)."""
    from confluent_kafka import TIMESTAMP_NOT_AVAILABLE, TopicPartition

    if not positions:
        return {}
    consumer.assign([TopicPartition(topic, p, off) for p, off in positions.items()])
    found: dict[int, datetime] = {}
    untimed: set[int] = set()
    deadline = time.monotonic() + timeout_s
    while len(found) + len(untimed) < len(positions) and time.monotonic() < deadline:
        msg = consumer.poll(0.2)
        if msg is None or msg.error() is not None:
            continue
        part = msg.partition()
        if part in found or part in untimed:
            continue
        kind, ms = msg.timestamp()
        if kind == TIMESTAMP_NOT_AVAILABLE:
            untimed.add(part)
        else:
            found[part] = datetime.fromtimestamp(ms / 1000, UTC)
    return found


def group_members(
    conf: Mapping[str, Any], group: str, *, timeout_s: float = 10.0
) -> tuple[int | None, str | None]:
    """(live members, group state) of ``group``; ``(0, None)`` for a group Kafka does not
    know, ``(None, None)`` when the broker could not answer in time."""
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import AdminClient

    admin = AdminClient(dict(conf))
    future = admin.describe_consumer_groups([group], request_timeout=timeout_s)[group]
    try:
        desc = future.result(timeout=timeout_s + 1)
    except KafkaException as exc:
        code = exc.args[0].code() if exc.args and isinstance(exc.args[0], KafkaError) else None
        return (0, None) if code == KafkaError.GROUP_ID_NOT_FOUND else (None, None)
    except Exception:  # a timed-out future: the member count is unknown, not zero
        return None, None
    state = getattr(desc.state, "name", None) or str(desc.state)
    return len(desc.members), state
