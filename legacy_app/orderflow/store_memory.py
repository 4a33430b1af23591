"""In-memory adapter of the shadow store, for unit tests (same contract as PostgreSQL)."""

from __future__ import annotations

import copy
import threading
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cutover.shadow import AlreadyProcessedError
from legacy_app.orderflow.changes import (
    AnalyticsRow,
    Changes,
    NotificationRow,
    OrderStatusRow,
    OutboxRow,
    PaymentRow,
    ProcessedRow,
    ReservationRow,
    SagaRow,
    ShipmentRow,
)
from legacy_app.orderflow.schema import DEFAULT_SCHEMA
from legacy_app.orderflow.store import sorted_outcomes
from legacy_app.outcome import Outcome


@dataclass(slots=True)
class MemoryState:
    """Every table of the shadow store as dicts."""

    processed: dict[tuple[str, str], ProcessedRow] = field(default_factory=dict)
    stock: dict[str, int] = field(default_factory=dict)
    reservations: dict[tuple[str, str], ReservationRow] = field(default_factory=dict)
    payments: dict[str, PaymentRow] = field(default_factory=dict)
    shipments: dict[str, ShipmentRow] = field(default_factory=dict)
    notifications: dict[tuple[str, str], NotificationRow] = field(default_factory=dict)
    orders: dict[str, OrderStatusRow] = field(default_factory=dict)
    outbox: dict[str, OutboxRow] = field(default_factory=dict)
    sagas: dict[str, SagaRow] = field(default_factory=dict)
    analytics: dict[tuple[datetime, str], AnalyticsRow] = field(default_factory=dict)
    anomalies: dict[tuple[str, str], int] = field(default_factory=dict)
    sequences: dict[tuple[str, str, str], int] = field(default_factory=dict)


class MemoryStoreTx:
    """A transaction over :class:`MemoryState` (savepoints snapshot the state)."""

    def __init__(self, store: InMemoryStore) -> None:
        self._store = store

    @property
    def _st(self) -> MemoryState:
        return self._store.state

    def processed_ids(self, consumer: str, event_ids: Collection[str]) -> set[str]:
        return {e for e in event_ids if (consumer, e) in self._st.processed}

    def lock_stock(self, skus: Collection[str]) -> dict[str, int]:
        return {s: self._st.stock[s] for s in skus if s in self._st.stock}

    def read_stock(self, skus: Collection[str]) -> dict[str, int]:
        return self.lock_stock(skus)

    def apply(self, changes: Changes) -> None:
        st = self._st
        clash = {r.event_id for r in changes.processed if (r.consumer, r.event_id) in st.processed}
        if clash:
            raise AlreadyProcessedError(changes.processed[0].consumer, clash)
        for r in changes.processed:
            st.processed[(r.consumer, r.event_id)] = r
        st.reservations.update(changes.reservations)
        for sku, delta in changes.stock_delta.items():
            if sku in st.stock:
                st.stock[sku] -= delta
        st.payments.update(changes.payments)
        st.shipments.update(changes.shipments)
        for key, note in changes.notifications.items():
            st.notifications.setdefault(key, note)
        for row in changes.orders.values():
            old = st.orders.get(row.order_id)
            if old is None or old.rank <= row.rank:
                st.orders[row.order_id] = row
        for o in changes.outbox:
            st.outbox.setdefault(o.id, o)
        st.sagas.update(changes.sagas)
        for a in changes.analytics.values():
            prev = st.analytics.get((a.minute, a.sku))
            st.analytics[(a.minute, a.sku)] = (
                a
                if prev is None
                else AnalyticsRow(
                    a.minute,
                    a.sku,
                    prev.orders + a.orders,
                    prev.quantity + a.quantity,
                    prev.revenue + a.revenue,
                )
            )

    def apply_encoded(self, encoded: object) -> None:
        if not isinstance(encoded, Changes):
            raise TypeError(f"expected Changes, got {type(encoded).__name__}")
        self.apply(encoded)  # merging is allowed by the contract; dicts merge for free

    def add_anomalies(self, counts: Mapping[tuple[str, str], int]) -> None:
        for key, n in counts.items():
            if n:
                self._st.anomalies[key] = self._st.anomalies.get(key, 0) + n

    def last_sequences(
        self, consumer: str, context: str, aggregate_ids: Collection[str]
    ) -> dict[str, int]:
        seqs = self._st.sequences
        return {
            a: seqs[(consumer, context, a)] for a in aggregate_ids if (consumer, context, a) in seqs
        }

    def set_sequences(self, consumer: str, context: str, sequences: Mapping[str, int]) -> None:
        for agg, seq in sequences.items():
            key = (consumer, context, agg)
            self._st.sequences[key] = max(seq, self._st.sequences.get(key, seq))

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        saved = copy.deepcopy(self._store.state)
        try:
            yield
        except BaseException:
            self._store.state = saved
            raise


class InMemoryStore:
    """A shadow store in dicts; ``fail_next_apply`` injects one failure for tests."""

    def __init__(self, schema: str = DEFAULT_SCHEMA) -> None:
        self.schema = schema
        self.state = MemoryState()
        self.commits = 0
        self._lock = threading.RLock()  # one transaction at a time (a writer thread may share it)

    def ensure_schema(self, stock: Mapping[str, int] | None = None) -> None:
        for sku, qty in (stock or {}).items():
            self.state.stock.setdefault(sku, qty)

    def encode(self, changes: Changes) -> object:
        return changes

    @contextmanager
    def transaction(self) -> Iterator[MemoryStoreTx]:
        with self._lock:
            saved = copy.deepcopy(self.state)
            try:
                yield MemoryStoreTx(self)
            except BaseException:
                self.state = saved
                raise
            self.commits += 1

    def outcomes(self, order_ids: Sequence[str] | None = None) -> list[Outcome]:
        st = self.state
        wanted = None if order_ids is None else set(order_ids)
        return sorted_outcomes(
            iter(
                [
                    self._row(o)
                    for o in st.orders.values()
                    if o.status in ("completed", "failed")
                    and (wanted is None or o.order_id in wanted)
                ]
            )
        )

    def _row(self, o: OrderStatusRow) -> dict[str, Any]:
        st = self.state
        res = sorted(
            (r for r in st.reservations.values() if r.order_id == o.order_id), key=lambda r: r.sku
        )
        pay = st.payments.get(o.order_id)
        ship = st.shipments.get(o.order_id)
        notes = sorted(
            (n for n in st.notifications.values() if n.order_id == o.order_id),
            key=lambda n: (n.template, n.recipient),
        )
        return {
            "order_id": o.order_id,
            "correlation_id": o.correlation_id,
            "status": o.status,
            "total": o.total,
            "produced_at": o.finished_at or o.updated_at,
            "reservation": [{"sku": r.sku, "qty": r.qty, "released": r.released} for r in res],
            "amount": None if pay is None else pay.amount,
            "payment_status": None if pay is None else pay.status,
            "attempts": None if pay is None else pay.attempts,
            "carrier": None if ship is None else ship.carrier,
            "shipment_status": None if ship is None else ship.status,
            "notifications": [{"template": n.template, "recipient": n.recipient} for n in notes],
        }

    def anomaly_counts(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for (context, kind), n in self.state.anomalies.items():
            out.setdefault(context, {})[kind] = n
        return out

    def table_counts(self) -> dict[str, int]:
        st = self.state
        return {
            "processed_events": len(st.processed),
            "stock": len(st.stock),
            "reservations": len(st.reservations),
            "payments": len(st.payments),
            "shipments": len(st.shipments),
            "notifications": len(st.notifications),
            "order_status": len(st.orders),
            "outbox": len(st.outbox),
            "sagas": len(st.sagas),
            "analytics_product_minute": len(st.analytics),
            "delivery_anomalies": len(st.anomalies),
            "aggregate_sequences": len(st.sequences),
        }

    def rebuild_since(self, since: datetime) -> int:
        st = self.state
        orders = {o.order_id for o in st.orders.values() if o.event_ts >= since}
        for key, r in list(st.reservations.items()):
            if r.order_id in orders:
                if not r.released and r.sku in st.stock:
                    st.stock[r.sku] += r.qty
                del st.reservations[key]
        for oid in orders:
            for table in (st.orders, st.payments, st.shipments, st.sagas):
                table.pop(oid, None)
        st.notifications = {k: v for k, v in st.notifications.items() if v.order_id not in orders}
        st.outbox = {k: v for k, v in st.outbox.items() if v.aggregateid not in orders}
        st.processed = {k: v for k, v in st.processed.items() if v.event_ts < since}
        st.analytics = {k: v for k, v in st.analytics.items() if k[0] < since}
        return len(orders)

    def close(self) -> None:
        """Nothing to release."""
