"""Delivery anomalies: duplicates, per-aggregate reordering and gaps, tombstones, snapshots.

Counted per context (the topic's aggregate type) in ``shadow.delivery_anomalies``
and read by the comparators through :func:`shadow.pg.anomaly_counts`. Kinds:

* ``duplicate`` — an event id seen twice (within a batch or already processed);
* ``gap`` — an aggregate's sequence jumped (``seq > last + 1``, or a first ``seq > 1``);
* ``reorder`` — an aggregate's sequence went back (``seq < last``, new event id);
* ``tombstone`` — a record with a null value;
* ``snapshot`` — a Debezium snapshot record (``op = r``) instead of an outbox event.

Sequences come from a ``sequence`` (or ``aggregate_version``) header when the
producer sets one — the legacy outbox sends ``aggregate_version`` (1 for
``order.created``, 2 for its ``order.completed``/``order.failed``); events
without it (or with ``0``) are not checked for gaps or reordering.

The same sequence again (``seq == last``, new event id) counts as nothing: the
event id check already catches this consumer's redeliveries. The highest sequence
per aggregate is kept per consumer (groups sharing a store never judge each other).
The runtime checks every event a batch settles for good, taken or ignored by its
processor, and leaves out redeliveries and records it will read again
(:meth:`shadow.runtime.ShadowWorker._sequence_checks`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from shadow.messages import InboundEvent

KINDS: tuple[str, ...] = ("duplicate", "gap", "reorder", "tombstone", "snapshot")

AnomalyCounts = Counter[tuple[str, str]]


def sequence_anomalies(
    events: Sequence[InboundEvent], last: Mapping[str, int]
) -> tuple[AnomalyCounts, dict[str, int]]:
    """Gaps and reorders among ``events`` (in delivery order) given the last sequence per
    aggregate; returns the counts and the new highest sequence per aggregate."""
    counts: AnomalyCounts = Counter()
    high: dict[str, int] = {}
    for ev in events:
        if ev.sequence is None:
            continue
        agg = ev.aggregate_id
        prev = high.get(agg, last.get(agg))
        if prev is not None:
            if ev.sequence > prev + 1:
                counts[(ev.context, "gap")] += 1
            elif ev.sequence < prev:
                counts[(ev.context, "reorder")] += 1
        elif ev.sequence > 1:
            counts[(ev.context, "gap")] += 1
        high[agg] = max(ev.sequence, prev if prev is not None else ev.sequence)
    return counts, high
