"""What a handler app's handlers write for a batch: the buffer its store writes in bulk (pure).

One :class:`AppBuffer` per event (the runtime merges those of the events that succeeded):
the idempotency claims, the statements queued with ``Handle.write`` (the batch form), one
:class:`EffectRow` per external effect and one :class:`OutboxEntry` per follow-up event.
Statements run at once with ``Handle.execute`` are not here: they are already in the
transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Self

from cutover_common.records import record
from shadow.plugin import ProcessedRow

EffectOutcome = Literal["recorded", "performed", "rejected"]


@record
class EffectRow:
    """One external effect of one event (``<schema>.effects``; key: consumer, event, name)."""

    consumer: str
    event_id: str
    name: str
    mode: str
    outcome: EffectOutcome
    request: Mapping[str, Any]
    result: Any
    at: datetime


@record
class OutboxEntry:
    """One follow-up event for the shadow outbox (the app SDK's outbox layout)."""

    id: uuid.UUID
    aggregate_type: str
    aggregate_id: str
    event_type: str
    payload: Mapping[str, Any]
    correlation_id: str | None
    causation_id: str | None
    mode: str | None
    created_at: datetime


@dataclass(slots=True)
class AppBuffer:
    """The writes of one event (or, merged, of a batch), in the order they were queued."""

    processed: list[ProcessedRow] = field(default_factory=list)
    writes: list[tuple[str, Mapping[str, Any]]] = field(default_factory=list)
    effects: list[EffectRow] = field(default_factory=list)
    outbox: list[OutboxEntry] = field(default_factory=list)

    def merge(self, other: Self) -> None:
        """Append ``other``'s writes after this buffer's."""
        self.processed.extend(other.processed)
        self.writes.extend(other.writes)
        self.effects.extend(other.effects)
        self.outbox.extend(other.outbox)

    def grouped_writes(self) -> list[tuple[str, list[Mapping[str, Any]]]]:
        """The queued statements by SQL text, texts in the order they first appear, each
        with its parameter sets in the order queued (one ``executemany`` each)."""
        groups: dict[str, list[Mapping[str, Any]]] = {}
        for sql, params in self.writes:
            groups.setdefault(sql, []).append(params)
        return list(groups.items())
