"""In-memory fakes of the Kafka ports, for unit tests of the runtime.

:class:`InMemoryBroker` keeps records per topic partition and committed
offsets per group; :class:`InMemoryConsumer` gets every partition of its
topics (no rebalancing), honours pause/seek, and commits stored offsets only
when told to — so a test can "crash" it (drop it without commit) and start
another consumer of the same group to see what gets redelivered.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from shadow.messages import Headers, RawMessage
from shadow.ports import TP, DeliveryHook, RebalanceHook


@dataclass
class InMemoryBroker:
    """Topic partitions and committed group offsets."""

    partitions: int = 3
    logs: dict[TP, list[RawMessage]] = field(default_factory=dict)
    committed: dict[tuple[str, TP], int] = field(default_factory=dict)
    notes: dict[tuple[str, TP], str] = field(default_factory=dict)
    """The metadata committed with a group's offset (dropped when a commit moves it)."""
    clock_ms: int = 1_700_000_000_000

    def append(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: Headers = (),
        partition: int | None = None,
    ) -> RawMessage:
        """Append a record (partition by key hash, like Kafka) and return it."""
        if partition is None:
            partition = zlib.crc32(key or b"") % self.partitions
        for p in range(self.partitions):
            self.logs.setdefault((topic, p), [])
        log = self.logs[(topic, partition)]
        self.clock_ms += 1
        msg = RawMessage(topic, partition, len(log), key, value, tuple(headers), self.clock_ms)
        log.append(msg)
        return msg

    def records(self, topic: str) -> list[RawMessage]:
        """Every record of ``topic`` (partition by partition)."""
        return [m for (t, _p), log in sorted(self.logs.items()) if t == topic for m in log]


class InMemoryConsumer:
    """A consumer of one group that owns every partition of its topics."""

    def __init__(self, broker: InMemoryBroker, group_id: str) -> None:
        self.broker = broker
        self.group_id = group_id
        self.pos: dict[TP, int] = {}
        self.stored: dict[TP, int] = {}
        self.paused: set[TP] = set()
        self.closed = False
        self.commits = 0
        self._topics: list[str] = []
        self._on_revoke: RebalanceHook | None = None

    def subscribe(
        self, topics: Sequence[str], on_assign: RebalanceHook, on_revoke: RebalanceHook
    ) -> None:
        self._topics = list(topics)
        self._on_revoke = on_revoke
        tps = self.assignment()
        for tp in tps:
            self.pos[tp] = self.broker.committed.get((self.group_id, tp), 0)
        on_assign(tps)

    def assignment(self) -> list[TP]:
        return sorted(tp for tp in self.broker.logs if tp[0] in self._topics)

    def consume(self, num_messages: int, timeout: float) -> list[RawMessage]:
        out: list[RawMessage] = []
        for tp in self.assignment():
            self.pos.setdefault(tp, self.broker.committed.get((self.group_id, tp), 0))
            if tp in self.paused:
                continue
            log = self.broker.logs[tp]
            while self.pos[tp] < len(log) and len(out) < num_messages:
                out.append(log[self.pos[tp]])
                self.pos[tp] += 1
        return out

    def store_offsets(self, offsets: dict[TP, int]) -> None:
        self.stored.update(offsets)

    def commit(self) -> None:
        for tp, off in self.stored.items():
            if self.broker.committed.get((self.group_id, tp)) != off:
                self.broker.notes.pop((self.group_id, tp), None)
            self.broker.committed[(self.group_id, tp)] = off
        self.commits += 1

    def commit_note(self, tp: TP, offset: int, note: str) -> None:
        self.stored[tp] = offset
        self.broker.committed[(self.group_id, tp)] = offset
        self.broker.notes[(self.group_id, tp)] = note

    def seek(self, tp: TP, offset: int) -> None:
        self.pos[tp] = offset

    def pause(self, tps: Sequence[TP]) -> None:
        self.paused.update(tps)

    def resume(self, tps: Sequence[TP]) -> None:
        self.paused.difference_update(tps)

    def positions(self) -> dict[TP, int]:
        return {tp: self.positions_of(tp) for tp in self.assignment()}

    def positions_of(self, tp: TP) -> int:
        return self.pos.get(tp, self.broker.committed.get((self.group_id, tp), 0))

    def lag(self) -> dict[TP, int]:
        return {tp: len(self.broker.logs[tp]) - self.pos.get(tp, 0) for tp in self.assignment()}

    def revoke_all(self) -> None:
        """Simulate a rebalance that takes every partition away."""
        if self._on_revoke is not None:
            self._on_revoke(self.assignment())

    def close(self) -> None:
        self.closed = True


class InMemoryProducer:
    """A producer onto an :class:`InMemoryBroker`, with the faults the runtime must survive.

    ``fail``: every delivery fails; ``missing_topics``: deliveries to them fail as unknown;
    ``max_bytes``: a larger record (key, value, headers) is refused at once, as librdkafka's
    ``message.max.bytes``; ``raise_for_keys``: produce raises for records with these keys;
    ``stall``: nothing is delivered (``flush`` returns the outstanding count);
    ``flush_error``: ``flush`` raises it.
    """

    def __init__(self, broker: InMemoryBroker, *, fail: bool = False) -> None:
        self.broker = broker
        self.fail = fail
        self.missing_topics: set[str] = set()
        self.max_bytes: int | None = None
        self.raise_for_keys: set[bytes] = set()
        self.stall = False
        self.flush_error: Exception | None = None
        self._pending: list[tuple[DeliveryHook, str | None]] = []
        self.flushes = 0

    def produce(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: Headers,
        on_delivery: DeliveryHook,
    ) -> None:
        if key is not None and key in self.raise_for_keys:
            raise RuntimeError(f"produce refused record {key!r}")
        size = len(key or b"") + len(value or b"") + sum(len(k) + len(v or b"") for k, v in headers)
        if self.max_bytes is not None and size > self.max_bytes:
            raise RuntimeError(f"MSG_SIZE_TOO_LARGE: {size} bytes > {self.max_bytes}")
        err = None
        if self.fail:
            err = "broker down"
        elif topic in self.missing_topics:
            err = "UNKNOWN_TOPIC_OR_PART: Broker: Unknown topic or partition"
        else:
            self.broker.append(topic, key, value, headers)
        self._pending.append((on_delivery, err))

    def poll(self, timeout: float) -> int:
        if self.stall:
            return 0
        pending, self._pending = self._pending, []
        for hook, err in pending:
            hook(err)
        return len(pending)

    def flush(self, timeout: float) -> int:
        self.flushes += 1
        if self.flush_error is not None:
            raise self.flush_error
        self.poll(timeout)
        return len(self._pending)
