"""One batch of records, pure: classification, in-batch duplicates, offsets to store.

No I/O here (the runtime in :mod:`shadow.runtime` does Kafka and the store), so these
rules are unit-tested on plain values.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field

from shadow.anomalies import AnomalyCounts
from shadow.errors import PoisonMessageError
from shadow.messages import InboundEvent, RawMessage, Skipped, decode
from shadow.plugin import Processor
from shadow.ports import TP

Blocked = dict[TP, tuple[int, float]]
"""Partition -> (offset to read again, seconds to stay paused)."""


@dataclass(slots=True)
class Item:
    """One record of the batch and what became of it."""

    msg: RawMessage
    event: InboundEvent | None = None
    parsed: object = None  # what the processor's ``parse`` made of the event
    status: str = "pending"  # pending | ignored | skipped | poison | duplicate | done | deferred
    poison: PoisonMessageError | None = None
    attempts: int = 0
    retry_after: float = 0.0

    @property
    def tp(self) -> TP:
        return (self.msg.topic, self.msg.partition)


@dataclass(slots=True)
class BatchReport:
    """What one step did (counts per status)."""

    consumed: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    dead_lettered: int = 0
    paused: list[TP] = field(default_factory=list)


def classify(
    msg: RawMessage,
    processor: Processor,
    counts: AnomalyCounts,
    paused: Collection[TP],
    known: frozenset[str] | None = None,
) -> Item:
    """Decode and check one record; what the batch must do with it.

    ``known``: the event types that are not poison (``None``: every type).
    """
    if paused and (msg.topic, msg.partition) in paused:
        return Item(msg, status="held")  # fetched before the pause; read again on resume
    try:
        decoded = decode(msg, known)
    except PoisonMessageError as exc:
        return Item(msg, status="poison", poison=exc, attempts=1)
    if isinstance(decoded, Skipped):
        counts[(decoded.context, decoded.kind)] += 1
        return Item(msg, status="skipped")
    if decoded.event_type not in processor.entry_types:
        return Item(msg, event=decoded, status="ignored")
    try:
        parsed = processor.parse(decoded)
    except PoisonMessageError as exc:
        return Item(msg, event=decoded, status="poison", poison=exc, attempts=1)
    return Item(msg, event=decoded, parsed=parsed)


def mark_batch_duplicates(items: list[Item], counts: AnomalyCounts) -> None:
    """The second and later copies of an event id in one batch are duplicates."""
    seen: set[str] = set()
    for it in items:
        if it.status == "pending" and it.event is not None:
            if it.event.event_id in seen:
                it.status = "duplicate"
                counts[(it.event.context, "duplicate")] += 1
            seen.add(it.event.event_id)


def plan_offsets(items: list[Item], pause_seconds: float) -> tuple[dict[TP, int], Blocked]:
    """Offsets to store (next to read) per partition, and the partitions to pause.

    A deferred record blocks its partition at its offset (nothing after it is stored);
    held records (fetched before a pause) store nothing for their partition.
    """
    store: dict[TP, int] = {}
    blocked: Blocked = {}
    held: set[TP] = set()
    for it in items:
        tp = it.tp
        if it.status == "held":
            held.add(tp)
        elif it.status == "deferred":
            if tp not in blocked or it.msg.offset < blocked[tp][0]:
                blocked[tp] = (it.msg.offset, it.retry_after or pause_seconds)
        elif tp not in blocked:
            store[tp] = max(store.get(tp, 0), it.msg.offset + 1)
    for tp, (off, _secs) in blocked.items():
        if tp in store:
            store[tp] = min(store[tp], off)
    for tp in held:
        store.pop(tp, None)
    return store, blocked
