"""Processors: what a consumer group does with each decoded event.

A processor names itself (``name`` is the consumer in ``processed_events``),
says which event types it takes from Kafka (``entry_types``) and applies one
event to a :class:`~shadow.effects.Recorder`. Types that are in the events
catalogue but not entry types are ignored (not poison); types outside the
catalogue are poison (``unknown_type``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from cutover.shadow import InboundEvent, ShadowConfigError, StaleReadError, event_time
from legacy_app.contracts import CONTRACTS
from legacy_app.orderflow.changes import AnalyticsRow, Changes, OutboxRow
from legacy_app.orderflow.domain import Order, parse_order
from legacy_app.orderflow.effects import EffectPort, Recorder
from legacy_app.orderflow.flow import FlowContext, routes, run_choreography
from legacy_app.orderflow.saga import OrderSaga

FLOW_CONTEXTS: frozenset[str] = frozenset({"order", "inventory", "payment", "shipping", "email"})
KNOWN_TYPES: frozenset[str] = frozenset(c.type for c in CONTRACTS)
RECORDED_MODES: frozenset[str] = frozenset({"dual", "sync", "naive-dual"})
"""Modes in which the flow's effects are recorded, not performed (the sync path is authoritative)."""


class Coordination(StrEnum):
    """How the order flow is coordinated."""

    CHOREOGRAPHY = "choreography"
    SAGA = "saga"


STOCK_CACHE_LIMIT = 100_000


@dataclass(slots=True)
class FlowScope:
    """What one batch's handlers read: stock (locked, or unlocked plus the worker's cache)."""

    stock: dict[str, int]
    now: datetime


def _skus(todo: Sequence[tuple[InboundEvent, object]]) -> set[str]:
    return {ln.sku for _ev, order in todo if isinstance(order, Order) for ln in order.items}


class _StockReads:
    """The order flow's reads for a batch, and the write-behind stock cache.

    Stock comes from a per-worker cache of what the worker itself has written (read without
    locks for SKUs it has not seen); the write locks the batch's stock rows and checks they
    still hold what the handlers started from.
    """

    supports_write_behind = True

    def __init__(self) -> None:
        self._cache: dict[str, int] = {}

    def begin(
        self, tx: Any, todo: Sequence[tuple[InboundEvent, object]], *, locked: bool
    ) -> FlowScope:
        skus = _skus(todo)
        now = datetime.now(UTC)
        if locked:
            return FlowScope(tx.lock_stock(skus) if skus else {}, now)
        cache = self._cache
        unseen = [s for s in skus if s not in cache]
        stock = {s: cache[s] for s in skus if s in cache}
        if unseen:
            stock.update(tx.read_stock(unseen))
        return FlowScope(stock, now)

    def expectation(self, scope: object) -> Mapping[str, Any]:
        assert isinstance(scope, FlowScope)
        return dict(scope.stock)

    def confirm(self, tx: Any, expected: Mapping[str, Any]) -> None:
        if not expected:
            return
        locked = tx.lock_stock(expected)
        if locked != expected:
            raise StaleReadError({s for s in expected if locked.get(s) != expected[s]})

    def remember(self, scope: object, batch: Any) -> None:
        assert isinstance(scope, FlowScope) and isinstance(batch, Changes)
        cache = self._cache
        if len(cache) + len(scope.stock) > STOCK_CACHE_LIMIT:
            cache.clear()
        for sku, available in scope.stock.items():
            cache[sku] = available - batch.stock_delta.get(sku, 0)

    def forget(self) -> None:
        self._cache.clear()

    def new_buffer(self) -> Changes:
        return Changes()


def _ts(event: InboundEvent) -> datetime:
    return event_time(event.timestamp_ms) if event.timestamp_ms else datetime.now(UTC)


class FlowProcessor(_StockReads):
    """The order flow: choreography of the active contexts, or the :class:`OrderSaga`.

    Effects follow each event's mode (the ``mode`` header the application stamped):
    recorded by ``effects`` in ``dual``, performed by ``performing`` in ``async`` and
    ``events-only``; an event without a mode takes ``default_mode``.
    """

    entry_types = frozenset({"order.created"})
    known_types: frozenset[str] | None = KNOWN_TYPES

    def __init__(
        self,
        effects: EffectPort,
        *,
        contexts: Collection[str] = FLOW_CONTEXTS,
        coordination: Coordination = Coordination.CHOREOGRAPHY,
        name: str = "shadow.flow",
        performing: EffectPort | None = None,
        default_mode: str = "dual",
    ) -> None:
        super().__init__()
        unknown = set(contexts) - FLOW_CONTEXTS
        if unknown:
            raise ShadowConfigError("contexts", f"unknown flow contexts {sorted(unknown)}")
        if coordination is Coordination.SAGA and set(contexts) != FLOW_CONTEXTS:
            raise ShadowConfigError("coordination", "the saga orchestrates every flow context")
        self.effects = effects
        self.performing = performing
        self.default_mode = default_mode
        self.contexts = frozenset(contexts)
        self.coordination = coordination
        self.name = name
        self._routes = routes(self.contexts)
        self._last: tuple[Any, Any, FlowScope, Recorder] | None = None
        self._binds: dict[int, Callable[[str], None]] = {
            id(port): bind
            for port in (effects, performing)
            if (bind := getattr(port, "bind_correlation", None)) is not None
        }

    def _recorder(self, changes: Any, batch: Any, scope: FlowScope) -> Recorder:
        """The recorder of these buffers: one for a whole batch recorded straight into one
        buffer (write-behind's direct path), a new one per event otherwise."""
        last = self._last
        if last is not None and last[0] is changes and last[1] is batch and last[2] is scope:
            return last[3]
        rec = Recorder(changes, batch, scope.stock, scope.now)
        self._last = (changes, batch, scope, rec)
        return rec

    def _effects_for(self, event: InboundEvent) -> EffectPort:
        if (event.mode or self.default_mode) in RECORDED_MODES or self.performing is None:
            return self.effects
        return self.performing

    def replayable(self, event: InboundEvent) -> bool:
        return self._effects_for(event) is self.effects

    def parse(self, event: InboundEvent) -> Order:
        return parse_order(event.payload)

    def apply(
        self, event: InboundEvent, parsed: object, changes: Any, batch: Any, scope: object
    ) -> None:
        assert isinstance(parsed, Order) and isinstance(scope, FlowScope)
        order = parsed
        rec = self._recorder(changes, batch, scope)
        effects = self._effects_for(event)
        ctx = FlowContext(  # order, root event id, correlation id, recorder, effects, time
            order, event.event_id, event.correlation_id, rec, effects, _ts(event)
        )
        bind = self._binds.get(id(effects))
        if bind is not None:
            bind(event.correlation_id)
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


class AnalyticsProcessor(_StockReads):
    """Orders, quantity and revenue per product per minute — a consumer added later, in its own
    group, without any change to the producer."""

    entry_types = frozenset({"order.created"})
    known_types: frozenset[str] | None = KNOWN_TYPES

    def __init__(self, name: str = "shadow.analytics") -> None:
        super().__init__()
        self.name = name

    def begin(
        self, tx: Any, todo: Sequence[tuple[InboundEvent, object]], *, locked: bool
    ) -> FlowScope:
        return FlowScope({}, datetime.now(UTC))  # reads nothing

    def replayable(self, event: InboundEvent) -> bool:
        return True

    def parse(self, event: InboundEvent) -> Order:
        return parse_order(event.payload)

    def apply(
        self, event: InboundEvent, parsed: object, changes: Any, batch: Any, scope: object
    ) -> None:
        assert isinstance(parsed, Order) and isinstance(changes, Changes)
        order = parsed
        minute = _ts(event).replace(second=0, microsecond=0)
        revenue: dict[str, Decimal] = {}
        for line in order.items:
            revenue[line.sku] = revenue.get(line.sku, Decimal("0")) + line.unit_price * line.qty
        for sku, qty in order.quantities().items():
            changes.add_analytics(AnalyticsRow(minute, sku, 1, qty, revenue[sku]))


def coordination_for(config: Mapping[str, str]) -> Coordination:
    """The flow's coordination from a per-context mapping (key ``order``; default choreography)."""
    return Coordination(config.get("order", Coordination.CHOREOGRAPHY.value))
