"""confluent-kafka adapters of the runtime ports, and the admin operations of the CLI.

Consumer settings that make the runtime at-least-once: ``enable.auto.offset.store``
is off (the runtime stores an offset only after the shadow transaction committed),
``enable.auto.commit`` is on (stored offsets are committed every second, in the
background), and revocation/shutdown commit synchronously.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from confluent_kafka import (
    Consumer,
    ConsumerGroupTopicPartitions,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient

from shadow.errors import KafkaOperationError
from shadow.messages import Headers, RawMessage
from shadow.ports import TP, DeliveryHook, RebalanceHook
from shadow.stuck import stuck_note

log = structlog.get_logger(__name__)

OFFSET_END = -1


def consumer_config(bootstrap_servers: str, group_id: str, **overrides: Any) -> dict[str, Any]:
    """librdkafka settings of a shadow consumer (``overrides`` win)."""
    config: dict[str, Any] = {
        "bootstrap.servers": bootstrap_servers,
        "group.id": group_id,
        "enable.auto.commit": True,
        "auto.commit.interval.ms": 1000,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "enable.partition.eof": False,
        "session.timeout.ms": 10000,
        "heartbeat.interval.ms": 1000,
        "max.poll.interval.ms": 300000,
        "fetch.min.bytes": 1,
        "queued.max.messages.kbytes": 65536,
    }
    config.update(overrides)
    return config


def _raw(m: Any) -> RawMessage:
    hdrs = m.headers()
    return RawMessage(
        m.topic(), m.partition(), m.offset(), m.key(), m.value(),
        tuple(hdrs) if hdrs else (), m.timestamp()[1],
    )  # fmt: skip


REJOIN_TIMEOUT_S = 90.0
CLOSE_TIMEOUT_S = 20.0


class KafkaConsumerAdapter:
    """:class:`~shadow.ports.ConsumerPort` over ``confluent_kafka.Consumer``.

    Rejoin watchdog: when the group assignment was *lost* (the session timed out, e.g. while
    the broker restarted) and no new assignment arrives within ``rejoin_timeout`` seconds,
    the consumer is replaced by a fresh one subscribed to the same topics. librdkafka can
    stay without a group coordinator after such an outage and never rejoin (librdkafka
    issues 2944, 3082, 3396); a fresh client looks the coordinator up again. The stuck one
    is closed in the background, so a slow close never holds up the worker. An ordinary
    revocation (a rebalance) does not arm the watchdog.
    """

    def __init__(
        self,
        config: Mapping[str, Any],
        *,
        rejoin_timeout: float = REJOIN_TIMEOUT_S,
        clock: Callable[[], float] = time.monotonic,
        factory: Callable[[dict[str, Any]], Any] = Consumer,
    ) -> None:
        self._config = dict(config)
        self._factory = factory
        self._clock = clock
        self._rejoin_timeout = rejoin_timeout
        self._consumer = factory(self._config)
        self._subscription: tuple[list[str], Any, Any, Any] | None = None
        self._lost_at: float | None = None

    def subscribe(
        self, topics: Sequence[str], on_assign: RebalanceHook, on_revoke: RebalanceHook
    ) -> None:
        def assign(_c: Any, parts: list[TopicPartition]) -> None:
            self._lost_at = None
            on_assign([(p.topic, p.partition) for p in parts])

        def revoke(_c: Any, parts: list[TopicPartition]) -> None:
            on_revoke([(p.topic, p.partition) for p in parts])

        def lost(_c: Any, parts: list[TopicPartition]) -> None:
            self._lost_at = self._clock()
            log.warning("partitions_lost", partitions=[f"{p.topic}[{p.partition}]" for p in parts])
            on_revoke([(p.topic, p.partition) for p in parts])

        self._subscription = (list(topics), assign, revoke, lost)
        self._subscribe()

    def _subscribe(self) -> None:
        assert self._subscription is not None
        topics, assign, revoke, lost = self._subscription
        self._consumer.subscribe(topics, on_assign=assign, on_revoke=revoke, on_lost=lost)

    def _rejoin_if_stuck(self) -> None:
        lost_at = self._lost_at
        if lost_at is None or self._clock() - lost_at < self._rejoin_timeout:
            return
        log.warning(
            "consumer_rejoin_stuck",
            seconds=round(self._clock() - lost_at, 1),
            action="replacing the consumer",
        )
        _close_in_background(self._consumer, "close-stuck-consumer")
        self._consumer = self._factory(self._config)
        self._lost_at = self._clock()  # the fresh one gets the same time to join
        self._subscribe()

    def consume(self, num_messages: int, timeout: float) -> list[RawMessage]:
        self._rejoin_if_stuck()
        out: list[RawMessage] = []
        for m in self._consumer.consume(num_messages, timeout):
            err = m.error()
            if err is None:
                out.append(_raw(m))
            elif err.code() != KafkaError._PARTITION_EOF:
                if err.fatal():
                    raise KafkaOperationError("consume", str(err))
                log.warning("consume_error", error=str(err))
        return out

    def store_offsets(self, offsets: dict[TP, int]) -> None:
        if offsets:
            self._consumer.store_offsets(
                offsets=[TopicPartition(t, p, o) for (t, p), o in offsets.items()]
            )

    def commit(self) -> None:
        try:
            self._consumer.commit(asynchronous=False)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError._NO_OFFSET:
                log.warning("commit_failed", error=str(exc))

    def commit_note(self, tp: TP, offset: int, note: str) -> None:
        part = TopicPartition(tp[0], tp[1], offset, metadata=note)
        try:
            self._consumer.commit(offsets=[part], asynchronous=False)
        except KafkaException as exc:
            log.warning("commit_note_failed", topic=tp[0], partition=tp[1], error=str(exc))

    def seek(self, tp: TP, offset: int) -> None:
        try:
            self._consumer.seek(TopicPartition(tp[0], tp[1], offset))
        except KafkaException as exc:
            log.warning("seek_failed", topic=tp[0], partition=tp[1], offset=offset, error=str(exc))

    def pause(self, tps: Sequence[TP]) -> None:
        self._consumer.pause([TopicPartition(t, p) for t, p in tps])

    def resume(self, tps: Sequence[TP]) -> None:
        self._consumer.resume([TopicPartition(t, p) for t, p in tps])

    def assignment(self) -> list[TP]:
        return [(p.topic, p.partition) for p in self._consumer.assignment()]

    def positions(self) -> dict[TP, int]:
        parts = self._consumer.assignment()
        if not parts:
            return {}
        return {
            (p.topic, p.partition): p.offset
            for p in self._consumer.position(parts)
            if p.offset >= 0
        }

    def lag(self) -> dict[TP, int]:
        parts = self._consumer.assignment()
        if not parts:
            return {}
        out: dict[TP, int] = {}
        try:
            positions = self._consumer.position(parts)
            for p in positions:
                # cached: the high watermark arrives with every fetch response (no round trip)
                low, high = self._consumer.get_watermark_offsets(p, cached=True)
                if high < 0:
                    continue
                out[(p.topic, p.partition)] = max(0, high - (p.offset if p.offset >= 0 else low))
        except KafkaException as exc:
            log.warning("lag_unavailable", error=str(exc))
        return out

    def close(self, timeout: float = CLOSE_TIMEOUT_S) -> None:
        """Leave the group; give up waiting after ``timeout`` seconds. Offsets were committed
        before (the runtime commits first), so a close that hangs — librdkafka can, when a
        rebalance is in flight — costs the group one session timeout, not data, and must
        not keep a worker from exiting on SIGTERM."""
        closing = _close_in_background(self._consumer, "consumer-close")
        closing.join(timeout)
        if closing.is_alive():
            log.warning("consumer_close_timed_out", seconds=timeout)


def _close_in_background(consumer: Any, name: str) -> threading.Thread:
    """Start closing ``consumer`` in a daemon thread (librdkafka's close can hang)."""
    closing = threading.Thread(target=consumer.close, name=name, daemon=True)
    closing.start()
    return closing


DLQ_MESSAGE_TIMEOUT_MS = 10_000


class KafkaProducerAdapter:
    """:class:`~shadow.ports.ProducerPort` over ``confluent_kafka.Producer`` (idempotent).

    It never creates a topic (cutover creates each before use). A record it cannot deliver
    within ``message.timeout.ms`` (10 s: the dead-letter topic is missing, the broker is
    unreachable) fails its delivery, so a flush ends and the runtime defers the record rather
    than the producer holding it to deliver later; a missing topic fails sooner, once
    ``topic.metadata.propagation.max.ms`` (5 s) has passed. Delivery errors reach the hook as
    ``<code name>: <text>``.
    """

    def __init__(self, bootstrap_servers: str, **overrides: Any) -> None:
        config: dict[str, Any] = {
            "bootstrap.servers": bootstrap_servers,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
            "allow.auto.create.topics": False,
            "message.timeout.ms": DLQ_MESSAGE_TIMEOUT_MS,
            "topic.metadata.propagation.max.ms": 5000,
        }
        config.update(overrides)
        self._producer = Producer(config)

    def produce(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: Headers,
        on_delivery: DeliveryHook,
    ) -> None:
        def delivered(err: Any, _msg: Any) -> None:
            on_delivery(None if err is None else f"{err.name()}: {err.str()}")

        self._producer.produce(
            topic, key=key, value=value, headers=list(headers), on_delivery=delivered
        )
        self._producer.poll(0)

    def poll(self, timeout: float) -> int:
        return int(self._producer.poll(timeout))

    def flush(self, timeout: float) -> int:
        return int(self._producer.flush(timeout))


# ------------------------------------------------------------------ admin
def _partitions(
    bootstrap_servers: str, topics: Sequence[str], consumer: Any
) -> list[TopicPartition]:
    meta = consumer.list_topics(timeout=10)
    out: list[TopicPartition] = []
    for topic in topics:
        tmeta = meta.topics.get(topic)
        if tmeta is None or tmeta.error is not None:
            raise KafkaOperationError(
                "list_topics", f"topic {topic} not found on {bootstrap_servers}"
            )
        out.extend(TopicPartition(topic, p) for p in sorted(tmeta.partitions))
    return out


def reset_offsets_to_time(
    bootstrap_servers: str, group_id: str, topics: Sequence[str], since_ms: int
) -> dict[TP, int]:
    """Point ``group_id`` at the first record at or after ``since_ms`` in each partition.

    The group must have no active member (stop the workers first). Partitions with
    no record that late are pointed at their end.
    """
    probe = Consumer({"bootstrap.servers": bootstrap_servers, "group.id": f"{group_id}.probe"})
    try:
        parts = _partitions(bootstrap_servers, topics, probe)
        found = probe.offsets_for_times(
            [TopicPartition(p.topic, p.partition, since_ms) for p in parts], timeout=10
        )
        target: list[TopicPartition] = []
        for p in found:
            offset = p.offset
            if offset < 0:
                offset = probe.get_watermark_offsets(p, timeout=10, cached=False)[1]
            target.append(TopicPartition(p.topic, p.partition, offset))
    finally:
        probe.close()
    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    futures = admin.alter_consumer_group_offsets([ConsumerGroupTopicPartitions(group_id, target)])
    for fut in futures.values():
        try:
            fut.result(30)
        except KafkaException as exc:
            raise KafkaOperationError("alter_consumer_group_offsets", str(exc)) from exc
    return {(p.topic, p.partition): p.offset for p in target}


@dataclass(frozen=True, slots=True)
class PartitionLag:
    """Committed offset, log start, high watermark and lag of one partition for one group.

    Lag counts from where the group reads next: its committed offset, or the log start when
    retention (or ``delete_records``) passed it; records deleted before the group read them
    are ``expired``, not lag (the arithmetic of :class:`comparators.position.PartitionPosition`).
    """

    topic: str
    partition: int
    committed: int
    high: int
    log_start: int = 0

    @property
    def position(self) -> int:
        return max(self.committed, self.log_start, 0)

    @property
    def lag(self) -> int:
        return max(0, self.high - self.position)

    @property
    def expired(self) -> int:
        """Records deleted unread (0 when the group never committed)."""
        return max(0, self.log_start - self.committed) if self.committed >= 0 else 0


def group_lag(bootstrap_servers: str, group_id: str, topics: Sequence[str]) -> list[PartitionLag]:
    """Lag of ``group_id`` on each partition of ``topics`` (from the committed offset or the
    log start, whichever is later, to the high watermark)."""
    probe = Consumer(
        {"bootstrap.servers": bootstrap_servers, "group.id": group_id, "enable.auto.commit": False}
    )
    try:
        parts = _partitions(bootstrap_servers, topics, probe)
        committed = probe.committed(parts, timeout=10)
        out = []
        for p in committed:
            low, high = probe.get_watermark_offsets(p, timeout=10, cached=False)
            out.append(PartitionLag(p.topic, p.partition, p.offset, high, low))
        return out
    finally:
        probe.close()


def stuck_notes(
    conf: Mapping[str, Any], group_id: str, topics: Sequence[str], *, timeout_s: float = 10.0
) -> list[str]:
    """What ``group_id``'s workers said they are stuck at (:mod:`shadow.stuck`), from the
    metadata committed with its offsets on ``topics``; empty when it is stuck nowhere (a
    topic that does not exist has no offsets). ``conf``: the client settings
    (``bootstrap.servers``, security)."""
    probe = Consumer({**conf, "group.id": group_id, "enable.auto.commit": False})
    try:
        meta = probe.list_topics(timeout=timeout_s).topics
        parts = [
            TopicPartition(t, p)
            for t in topics
            if t in meta and meta[t].error is None
            for p in sorted(meta[t].partitions)
        ]
        committed = probe.committed(parts, timeout=timeout_s) if parts else []
    except KafkaException as exc:
        raise KafkaOperationError("committed", str(exc)) from exc
    finally:
        probe.close()
    return [n for p in committed if (n := stuck_note(p.metadata)) is not None]


def topic_size(bootstrap_servers: str, topic: str) -> int:
    """Records currently in ``topic`` (sum of high minus low watermarks)."""
    probe = Consumer(
        {"bootstrap.servers": bootstrap_servers, "group.id": "cutover.shadow.size-probe"}
    )
    try:
        total = 0
        for p in _partitions(bootstrap_servers, [topic], probe):
            low, high = probe.get_watermark_offsets(p, timeout=10, cached=False)
            total += high - low
        return total
    finally:
        probe.close()
