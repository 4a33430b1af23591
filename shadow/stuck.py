"""Partitions a worker cannot move past, and why (pure: the runtime does the I/O).

A partition is *stuck* when the record at its position cannot be settled for a reason the
worker cannot fix by itself — its dead letter could not be produced (the dead-letter topic is
missing or unreachable, the broker refuses it). The worker pauses the partition, retries
after a while, and says so by name: ``stuck at order:1@1348: <reason>``. It logs
``partition_stuck`` once per state change, sets the gauge ``shadow_partition_stuck`` and
commits the partition's offset with that text as the commit's metadata, where ``cutover
shadow status`` and the phase gate read it (:data:`NOTE_PREFIX`). The state ends when the
partition's stored offset moves past the record (the next commit carries no note).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime

from shadow.ports import TP

NOTE_PREFIX = "stuck at "
NOTE_MAX = 1000  # Kafka keeps up to offset.metadata.max.bytes (4096 by default)


@dataclass(frozen=True, slots=True)
class Stuck:
    """The record a partition is stuck at, why, and since when."""

    topic: str
    partition: int
    offset: int
    reason: str
    since: datetime

    @property
    def text(self) -> str:
        return f"{NOTE_PREFIX}{self.topic}:{self.partition}@{self.offset}: {self.reason}"

    @property
    def note(self) -> str:
        """The text with its first-seen time, as committed with the offset."""
        since = self.since.strftime("%Y-%m-%dT%H:%M:%SZ")
        return f"{self.text[: NOTE_MAX - 40]} (since {since})"


def stuck_note(metadata: str | None) -> str | None:
    """The stuck text of a committed offset's metadata, or None when it holds none."""
    return metadata if metadata and metadata.startswith(NOTE_PREFIX) else None


class StuckPartitions:
    """The stuck state of each partition of one worker."""

    def __init__(self) -> None:
        self._by_tp: dict[TP, Stuck] = {}

    def mark(self, tp: TP, offset: int, reason: str, now: datetime) -> Stuck | None:
        """Record that ``tp`` is stuck at ``offset``; the state when it is new or changed
        (None when the partition was already stuck there for that reason)."""
        old = self._by_tp.get(tp)
        if old is not None and (old.offset, old.reason) == (offset, reason):
            return None
        since = old.since if old is not None and old.offset == offset else now
        state = Stuck(tp[0], tp[1], offset, reason, since)
        self._by_tp[tp] = state
        return state

    def passed(self, stored: Mapping[TP, int]) -> list[Stuck]:
        """Forget the partitions whose stored offset moved past their record; those states."""
        done = [s for tp, s in self._by_tp.items() if stored.get(tp, -1) > s.offset]
        for s in done:
            del self._by_tp[(s.topic, s.partition)]
        return done

    def forget(self, tps: Collection[TP]) -> list[Stuck]:
        """Forget ``tps`` (revoked); their states."""
        return [s for tp in tps if (s := self._by_tp.pop(tp, None)) is not None]

    def __iter__(self) -> Iterator[Stuck]:
        return iter(list(self._by_tp.values()))

    def __len__(self) -> int:
        return len(self._by_tp)
