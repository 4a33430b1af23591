"""Where the shadow pipeline stands on its topic: the value the comparators and gates read.

Per partition: the consumer group's committed offset, Kafka's log-start offset (the oldest
record retention or ``delete_records`` left), the high watermark, and the timestamp of the
oldest record the group has not consumed. From those:

- ``lag_messages``: records between the committed offset (or the log start, when retention
  passed it) and the high watermark — deleted records are not lag;
- ``expired``: records deleted unread (log start minus committed offset, when positive);
- ``watermark``: the pipeline has captured and consumed everything written before it — the
  timestamp of the oldest unconsumed record, and no later than ``captured_at`` (the newest
  heartbeat the connector put in Kafka: Kafka Connect frozen, nothing is behind on the
  topic and yet nothing new was captured); ``observed_at`` (the reading's own time) when
  nothing is behind and no heartbeat was read. A key whose sync commit is later than the
  watermark is ``pending``, earlier and still without a candidate is ``missing`` (or
  ``expired`` when its record was deleted);
- ``lag_ms``: age of the oldest unconsumed record; 0 when nothing is behind (consumer lag
  only: the capture side's delay is not in it).

This module is pure; the Kafka reader fills the value (see ``read_position``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class PartitionPosition:
    """One partition of the topic as one consumer group sees it."""

    partition: int
    committed: int | None
    """The group's committed offset; ``None`` when it never committed."""
    log_start: int
    high: int
    oldest_unconsumed_at: datetime | None = None
    """Timestamp of the record at the consume position, ``None`` when nothing is behind."""

    @property
    def position(self) -> int:
        """Where the group reads next: its committed offset, or the log start when it never
        committed or retention passed it."""
        return max(self.committed if self.committed is not None else 0, self.log_start)

    @property
    def lag_messages(self) -> int:
        return max(0, self.high - self.position)

    @property
    def expired(self) -> int:
        """Records deleted before the group read them."""
        if self.committed is None:
            return 0
        return max(0, self.log_start - self.committed)


@dataclass(frozen=True, slots=True)
class PipelinePosition:
    """The whole topic for one group, read at ``observed_at``."""

    topic: str
    group: str
    observed_at: datetime
    partitions: tuple[PartitionPosition, ...] = ()
    members: int | None = None
    """Live members of the group; ``None`` when it could not be read."""
    extra: Mapping[str, Any] = field(default_factory=dict)
    captured_at: datetime | None = None
    """The newest heartbeat seen end to end (database -> connector -> Kafka): everything
    committed before it was captured; ``None`` when no heartbeat was read."""

    @property
    def lag_messages(self) -> int:
        return sum(p.lag_messages for p in self.partitions)

    @property
    def expired(self) -> int:
        return sum(p.expired for p in self.partitions)

    @property
    def consumed_until(self) -> datetime:
        """The timestamp of the oldest unconsumed record; ``observed_at`` when none is behind."""
        behind = [p.oldest_unconsumed_at for p in self.partitions if p.lag_messages > 0]
        known = [t for t in behind if t is not None]
        return min(known) if known else self.observed_at

    @property
    def watermark(self) -> datetime:
        consumed = self.consumed_until
        if self.captured_at is None:
            return consumed
        return min(consumed, self.captured_at)

    @property
    def watermark_known(self) -> bool:
        """False when a partition is behind but its oldest unconsumed record's time could not
        be read: :attr:`watermark` then only bounds the partitions whose time is known."""
        return all(p.oldest_unconsumed_at is not None for p in self.partitions if p.lag_messages)

    @property
    def lag_ms(self) -> float:
        """Age of the oldest unconsumed record at ``observed_at``; 0 when nothing is behind."""
        return max(0.0, (self.observed_at - self.consumed_until).total_seconds() * 1000)
