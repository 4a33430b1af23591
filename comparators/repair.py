"""Repair proposals (pure): compensating outbox events for lost keys, reports for divergent ones.

For a ``missing`` key (the control did it, the candidate never saw it) or an
``expired`` one (Kafka deleted its event before the candidate read it) the
repair is to emit the event the candidate missed again, through the outbox,
so the normal CDC path delivers it: ``type`` is the missing event type,
``aggregateid`` the key, ``causation_id`` ``"repair:<run id>"``. The event id
is derived from the run id and the key (UUID v5), so applying the same run
twice inserts nothing new. Divergent keys are not rewritten: the report says
what differs. Nothing is proposed for ``out_of_scope`` keys (written while their
context wrote no events, e.g. in ``sync``) nor for ``pending`` ones (the pipeline has
not reached them yet).

A proposal carries no aggregate version: the writer (:mod:`comparators.outbox`)
assigns it in the transaction that inserts the event, by advancing the
aggregate's counter as the application does (``--versioned-aggregate``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from comparators.explain import Difference
from comparators.result import Category, KeyResult

PayloadBuilder = Callable[[str, Mapping[str, Any]], dict[str, Any]]

REPAIRED: tuple[Category, ...] = (Category.MISSING, Category.EXPIRED)
"""The categories a repair re-emits an event for (the event was lost either way)."""

_NAMESPACE = uuid.UUID("6f1c3c8e-3f55-4a53-9b3e-6c7f2f0b9a10")


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    """One row for the ``outbox`` table (Debezium Outbox Event Router layout)."""

    id: uuid.UUID
    aggregatetype: str
    aggregateid: str
    type: str
    payload: dict[str, Any]
    correlation_id: str | None
    causation_id: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "aggregatetype": self.aggregatetype,
            "aggregateid": self.aggregateid,
            "type": self.type,
            "payload": self.payload,
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
        }


@dataclass(frozen=True, slots=True)
class DivergenceReport:
    """What differs for a divergent key (nothing is written for it)."""

    key: str
    differences: tuple[Difference, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "differences": [d.to_dict() for d in self.differences]}


@dataclass(frozen=True, slots=True)
class RepairPlan:
    """Everything a repair run would do."""

    run_id: str
    events: tuple[OutboxEvent, ...]
    divergent: tuple[DivergenceReport, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "events": [e.to_dict() for e in self.events],
            "divergent": [d.to_dict() for d in self.divergent],
        }


def default_payload(event_type: str, control: Mapping[str, Any]) -> dict[str, Any]:
    """The event payload a repair writes unless told otherwise: the control outcome itself,
    marked as a repair. A team whose consumers need the contract's shape names a builder
    (``cutover repair --payload module:function``, same signature)."""
    return {"outcome": dict(control), "repair": True}


def propose(
    results: Iterable[KeyResult],
    event_type: str,
    run_id: str,
    payload: PayloadBuilder = default_payload,
    aggregatetype: str | None = None,
) -> RepairPlan:
    """Outbox events for every missing or expired key, reports for every divergent key."""
    agg = aggregatetype or event_type.split(".", 1)[0]
    events: list[OutboxEvent] = []
    divergent: list[DivergenceReport] = []
    for res in results:
        if res.category in REPAIRED and res.control is not None:
            corr = res.control.get("correlation_id")
            events.append(
                OutboxEvent(
                    id=uuid.uuid5(_NAMESPACE, f"{run_id}/{event_type}/{res.key}"),
                    aggregatetype=agg,
                    aggregateid=res.key,
                    type=event_type,
                    payload=payload(event_type, res.control),
                    correlation_id=str(corr) if corr else None,
                    causation_id=f"repair:{run_id}",
                )
            )
        elif res.category is Category.DIVERGENT:
            divergent.append(DivergenceReport(res.key, res.differences))
    return RepairPlan(run_id, tuple(events), tuple(divergent))
