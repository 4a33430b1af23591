"""Processors: what a consumer group does with each decoded event.

A processor names itself (``name`` is the consumer in ``processed_events``),
says which event types it takes from Kafka (``entry_types``) and applies one
event to a :class:`~shadow.effects.Recorder`. Types that are in the events
catalogue but not entry types are ignored (not poison); types outside the
catalogue are poison (``unknown_type``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

from events.catalog import CATALOG
from shadow.changes import AnalyticsRow, OutboxRow
from shadow.domain import Order, parse_order
from shadow.effects import EffectPort, Recorder
from shadow.errors import ShadowConfigError
from shadow.flow import FlowContext, routes, run_choreography
from shadow.messages import InboundEvent, event_time
from shadow.saga import OrderSaga

FLOW_CONTEXTS: frozenset[str] = frozenset({"order", "inventory", "payment", "shipping", "email"})
KNOWN_TYPES: frozenset[str] = frozenset(CATALOG)


class Coordination(StrEnum):
    """How the order flow is coordinated."""

    CHOREOGRAPHY = "choreography"
    SAGA = "saga"


class Processor(Protocol):
    """What one consumer group does with events."""

    name: str
    entry_types: frozenset[str]

    def parse(self, event: InboundEvent) -> Order:
        """Check the event's payload (raises PoisonMessageError ``schema_invalid``)."""

    def apply(self, event: InboundEvent, order: Order, rec: Recorder) -> None:
        """Record what the event causes."""


def _ts(event: InboundEvent) -> datetime:
    return event_time(event.timestamp_ms) if event.timestamp_ms else datetime.now(UTC)


class FlowProcessor:
    """The order flow: choreography of the active contexts, or the :class:`OrderSaga`."""

    entry_types = frozenset({"order.created"})

    def __init__(
        self,
        effects: EffectPort,
        *,
        contexts: Collection[str] = FLOW_CONTEXTS,
        coordination: Coordination = Coordination.CHOREOGRAPHY,
        name: str = "shadow.flow",
    ) -> None:
        unknown = set(contexts) - FLOW_CONTEXTS
        if unknown:
            raise ShadowConfigError("contexts", f"unknown flow contexts {sorted(unknown)}")
        if coordination is Coordination.SAGA and set(contexts) != FLOW_CONTEXTS:
            raise ShadowConfigError("coordination", "the saga orchestrates every flow context")
        self.effects = effects
        self.contexts = frozenset(contexts)
        self.coordination = coordination
        self.name = name
        self._routes = routes(self.contexts)
        self._bind: Callable[[str], None] | None = getattr(effects, "bind_correlation", None)

    def parse(self, event: InboundEvent) -> Order:
        return parse_order(event.payload)

    def apply(self, event: InboundEvent, order: Order, rec: Recorder) -> None:
        ctx = FlowContext(  # order, root event id, correlation id, recorder, effects, time
            order, event.event_id, event.correlation_id, rec, self.effects, _ts(event)
        )
        if self._bind is not None:
            self._bind(event.correlation_id)
        root = OutboxRow(  # the root event, as the legacy's outbox held it
            event.event_id,
            "order",
            event.aggregate_id,
            event.event_type,
            event.payload,
            event.correlation_id,
            event.causation_id,
        )
        if self.coordination is Coordination.SAGA:
            OrderSaga(ctx, root).run()
        else:
            run_choreography(root, ctx, self._routes)


class AnalyticsProcessor:
    """Orders, quantity and revenue per product per minute — a consumer added later, in its own
    group, without any change to the producer."""

    entry_types = frozenset({"order.created"})

    def __init__(self, name: str = "shadow.analytics") -> None:
        self.name = name

    def parse(self, event: InboundEvent) -> Order:
        return parse_order(event.payload)

    def apply(self, event: InboundEvent, order: Order, rec: Recorder) -> None:
        minute = _ts(event).replace(second=0, microsecond=0)
        revenue: dict[str, Decimal] = {}
        for line in order.items:
            revenue[line.sku] = revenue.get(line.sku, Decimal("0")) + line.unit_price * line.qty
        for sku, qty in order.quantities().items():
            rec.changes.add_analytics(AnalyticsRow(minute, sku, 1, qty, revenue[sku]))


def coordination_for(config: Mapping[str, str]) -> Coordination:
    """The flow's coordination from a per-context mapping (key ``order``; default choreography)."""
    return Coordination(config.get("order", Coordination.CHOREOGRAPHY.value))
