"""Dead letters as an operator sees them, pure: the letter, filters, coordinates, acknowledgements.

No I/O here (:mod:`shadow.dlq_kafka` reads the topic, :mod:`shadow.dlq_commands` runs the
commands), so the rules are unit-tested on plain values.

An *acknowledgement* (:class:`DlqAck`) says which dead-letter records an operator has dealt
with (purged, or replayed and applied): per partition of the dead-letter topic, the offset
ranges acknowledged. A gate counts only the records neither acknowledged nor older than the
phase (:func:`unacknowledged`); ``delete_records`` may only remove the acknowledged prefix of
a partition (:func:`deletable_up_to`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from shadow.dlq import CLAIM_CHECK, ORIGINAL_SIZE, PREFIX, VALUE_TRUNCATED, dlq_headers
from shadow.errors import ShadowConfigError
from shadow.messages import Headers, RawMessage

Range = tuple[int, int]
"""Offsets ``[start, end)`` of one partition."""
Ranges = Mapping[int, Sequence[Range]]
"""Per partition, its acknowledged offset ranges (sorted, disjoint)."""


def _int(value: str | None, default: int = -1) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


@dataclass(frozen=True, slots=True)
class Letter:
    """One dead-letter record: where it sits in the dead-letter topic, where it came from, why."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    consumer: str
    original_topic: str
    original_partition: int
    original_offset: int
    original_timestamp_ms: int
    key: bytes | None
    value: bytes | None
    headers: Headers
    """The original record's headers (without the ``dlq.*`` ones)."""
    kind: str
    error_class: str
    message: str
    attempts: int
    size: int
    """The original value's size in bytes (``dlq.original.size``, else the value's)."""
    truncated: bool
    claim_check: str | None

    @classmethod
    def from_raw(cls, msg: RawMessage) -> Letter:
        dlq = dlq_headers(msg)
        value = msg.value
        return cls(
            topic=msg.topic,
            partition=msg.partition,
            offset=msg.offset,
            timestamp_ms=msg.timestamp_ms,
            consumer=dlq.get("dlq.consumer", ""),
            original_topic=dlq.get("dlq.original.topic", ""),
            original_partition=_int(dlq.get("dlq.original.partition")),
            original_offset=_int(dlq.get("dlq.original.offset")),
            original_timestamp_ms=_int(dlq.get("dlq.original.timestamp"), 0),
            key=msg.key,
            value=value,
            headers=tuple((k, v) for k, v in msg.headers if not k.startswith(PREFIX)),
            kind=dlq.get("dlq.error.kind", ""),
            error_class=dlq.get("dlq.error.class", ""),
            message=dlq.get("dlq.error.message", ""),
            attempts=_int(dlq.get("dlq.attempts"), 0),
            size=_int(dlq.get(ORIGINAL_SIZE), len(value or b"")),
            truncated=dlq.get(VALUE_TRUNCATED) == "true",
            claim_check=dlq.get(CLAIM_CHECK) or None,
        )

    @property
    def event_type(self) -> str:
        return self.header("type") or ""

    @property
    def event_id(self) -> str:
        return self.header("id") or ""

    def header(self, name: str) -> str | None:
        """The original record's last header ``name`` as text."""
        return RawMessage("", 0, 0, None, None, self.headers).header(name)

    @property
    def time(self) -> datetime:
        """When it was dead-lettered."""
        return datetime.fromtimestamp(self.timestamp_ms / 1000, UTC)

    @property
    def origin(self) -> str:
        """``topic:partition@offset`` of the original record."""
        return f"{self.original_topic}:{self.original_partition}@{self.original_offset}"

    def original(self, value: bytes | None = None) -> RawMessage:
        """The original record as the consumer first read it (``value`` instead of the kept
        one: the whole value of a truncated letter)."""
        return RawMessage(
            self.original_topic,
            self.original_partition,
            self.original_offset,
            self.key,
            self.value if value is None else value,
            self.headers,
            self.original_timestamp_ms,
        )

    def to_dict(self) -> dict[str, Any]:
        """The list view (no value)."""
        return {
            "dlq": f"{self.topic}:{self.partition}@{self.offset}",
            "consumer": self.consumer,
            "original": self.origin,
            "key": None if self.key is None else self.key.decode("utf-8", "replace"),
            "time": self.time.isoformat(),
            "type": self.event_type,
            "event_id": self.event_id,
            "kind": self.kind,
            "error_class": self.error_class,
            "reason": self.message,
            "attempts": self.attempts,
            "size": self.size,
            "truncated": self.truncated,
        }


@dataclass(frozen=True, slots=True)
class LetterFilter:
    """Which letters a command works on; empty fields select everything."""

    kinds: tuple[str, ...] = ()
    """Error kinds (``dlq.error.kind``), any of."""
    reason: str | None = None
    """Text the reason (``dlq.error.message``) or the error class contains (case-insensitive)."""
    types: tuple[str, ...] = ()
    """Event types (the original ``type`` header), any of."""
    since: datetime | None = None
    until: datetime | None = None
    """Dead-lettered at or after ``since``, before ``until``."""
    consumers: tuple[str, ...] = ()

    def matches(self, letter: Letter) -> bool:
        reason = (self.reason or "").lower()
        return (
            (not self.kinds or letter.kind in self.kinds)
            and (not reason or reason in f"{letter.message} {letter.error_class}".lower())
            and (not self.types or letter.event_type in self.types)
            and (self.since is None or letter.time >= self.since)
            and (self.until is None or letter.time < self.until)
            and (not self.consumers or letter.consumer in self.consumers)
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "kinds": list(self.kinds),
            "reason": self.reason,
            "types": list(self.types),
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "consumers": list(self.consumers),
        }


# ------------------------------------------------------------------ coordinates
_COORD = re.compile(r"^(?:(?P<topic>[^@]+):)?(?P<partition>\d+)@(?P<offset>\d+)$")


@dataclass(frozen=True, slots=True)
class Coordinates:
    """A letter by ``topic:partition@offset`` of its original record, or ``partition@offset``
    in the dead-letter topic."""

    topic: str | None
    partition: int
    offset: int

    @classmethod
    def parse(cls, text: str) -> Coordinates:
        found = _COORD.match(text.strip())
        if found is None:
            raise ShadowConfigError(
                "letter",
                f"{text!r} is neither TOPIC:PARTITION@OFFSET (the original record) nor "
                "PARTITION@OFFSET (in the dead-letter topic)",
            )
        return cls(found["topic"], int(found["partition"]), int(found["offset"]))

    def matches(self, letter: Letter) -> bool:
        if self.topic is None or self.topic == letter.topic:
            return (letter.partition, letter.offset) == (self.partition, self.offset)
        return (letter.original_topic, letter.original_partition, letter.original_offset) == (
            self.topic,
            self.partition,
            self.offset,
        )


# ------------------------------------------------------------------ acknowledgements
def ranges_of(offsets: Iterable[tuple[int, int]]) -> dict[int, list[Range]]:
    """``(partition, offset)`` pairs as sorted, merged ranges per partition."""
    singles: dict[int, list[Range]] = {}
    for partition, offset in offsets:
        singles.setdefault(partition, []).append((offset, offset + 1))
    return merge(singles)


def merge(*many: Ranges) -> dict[int, list[Range]]:
    """The union of several range maps, each partition's ranges sorted and coalesced."""
    spans: dict[int, list[Range]] = {}
    for ranges in many:
        for partition, rs in ranges.items():
            spans.setdefault(int(partition), []).extend((int(a), int(b)) for a, b in rs)
    out: dict[int, list[Range]] = {}
    for partition, rs in sorted(spans.items()):
        merged: list[Range] = []
        for start, end in sorted(rs):
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            elif end > start:
                merged.append((start, end))
        out[partition] = merged
    return out


def covered(ranges: Sequence[Range], start: int, end: int) -> int:
    """How many offsets of ``[start, end)`` the (sorted, disjoint) ``ranges`` hold."""
    return sum(max(0, min(b, end) - max(a, start)) for a, b in ranges)


def is_acknowledged(ranges: Ranges, partition: int, offset: int) -> bool:
    return covered(ranges.get(partition, ()), offset, offset + 1) == 1


def unacknowledged(
    watermarks: Mapping[int, tuple[int, int]],
    acked: Ranges,
    since: Mapping[int, int] | None = None,
) -> int:
    """Dead letters that count: per partition, the records between its log start (or
    ``since[partition]``, the first offset written after the phase started, whichever is
    later) and its high watermark, less those acknowledged."""
    total = 0
    for partition, (low, high) in watermarks.items():
        start = max(low, (since or {}).get(partition, low))
        if high > start:
            total += high - start - covered(acked.get(partition, ()), start, high)
    return total


def deletable_up_to(low: int, ranges: Sequence[Range]) -> int:
    """The offset ``delete_records`` may delete up to: the end of the acknowledged run of
    offsets that starts at the log start (``low`` itself when the first record is not
    acknowledged; nothing unacknowledged is ever deleted)."""
    end = low
    for a, b in ranges:
        if a > end:
            break
        end = max(end, b)
    return end


@dataclass(frozen=True, slots=True)
class DlqAck:
    """One acknowledgement of dead letters (an audit row): who, when, why, which records."""

    topic: str
    ranges: Mapping[int, Sequence[Range]]
    count: int
    action: str
    """``purge`` or ``replay``."""
    actor: str = ""
    filter: Mapping[str, Any] = field(default_factory=dict)
    deleted_up_to: Mapping[int, int] = field(default_factory=dict)
    """Per partition, the offset Kafka's records were deleted up to (``--delete-records``)."""
    at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "ranges": {str(p): [list(r) for r in rs] for p, rs in self.ranges.items()},
            "count": self.count,
            "action": self.action,
            "actor": self.actor,
            "filter": dict(self.filter),
            "deleted_up_to": {str(p): o for p, o in self.deleted_up_to.items()},
            "at": self.at.isoformat() if self.at else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DlqAck:
        at = data.get("at")
        return cls(
            topic=str(data["topic"]),
            ranges=merge({int(p): [tuple(r) for r in rs] for p, rs in data["ranges"].items()}),
            count=int(data.get("count", 0)),
            action=str(data.get("action", "")),
            actor=str(data.get("actor", "")),
            filter=dict(data.get("filter") or {}),
            deleted_up_to={int(p): int(o) for p, o in (data.get("deleted_up_to") or {}).items()},
            at=datetime.fromisoformat(at) if at else None,
        )


def acknowledged(acks: Iterable[DlqAck], topic: str) -> dict[int, list[Range]]:
    """Every range acknowledged on ``topic``."""
    return merge(*(a.ranges for a in acks if a.topic == topic))


class AckLog(Protocol):
    """Where acknowledgements are kept (cutover's audit trail: ``phases.dlq_acks``)."""

    def record(self, ack: DlqAck) -> None:
        """Append ``ack`` (an audit row)."""

    def acks(self, topic: str) -> list[DlqAck]:
        """Every acknowledgement of ``topic``, oldest first."""


class InMemoryAckLog:
    """:class:`AckLog` in a list (unit tests)."""

    def __init__(self) -> None:
        self.rows: list[DlqAck] = []

    def record(self, ack: DlqAck) -> None:
        self.rows.append(ack)

    def acks(self, topic: str) -> list[DlqAck]:
        return [a for a in self.rows if a.topic == topic]
