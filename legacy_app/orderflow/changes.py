"""What handlers write, buffered in memory and flushed in bulk once per batch.

A handler never talks to the database: it records rows in a :class:`Changes`
buffer (one per message). The runtime merges the buffer of every message that
succeeded into the batch's buffer and the store writes that in one transaction,
so a failing message is simply not merged (no rollback of its neighbours).
Keyed rows are upserts: a later row for the same key replaces the earlier one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from cutover.shadow import ProcessedRow, record

__all__ = ["ProcessedRow"]  # re-exported: the sample's buffer holds the runtime's rows

ORDER_STATUS_RANK: dict[str, int] = {"pending": 0, "failed": 1, "completed": 1}


@record
class ReservationRow:
    order_id: str
    sku: str
    qty: int
    released: bool


@record
class PaymentRow:
    order_id: str
    amount: Decimal
    status: str
    attempts: int


@record
class ShipmentRow:
    order_id: str
    carrier: str
    status: str


@record
class NotificationRow:
    order_id: str
    template: str
    recipient: str


@record
class OrderStatusRow:
    """The CQRS read model: one row per order, its latest status."""

    order_id: str
    correlation_id: str
    status: str
    total: Decimal
    customer_email: str
    updated_at: datetime
    finished_at: datetime | None
    event_ts: datetime

    @property
    def rank(self) -> int:
        return ORDER_STATUS_RANK.get(self.status, 0)


@record
class OutboxRow:
    """A follow-up event for the shadow store's own outbox (legacy outbox layout)."""

    id: str
    aggregatetype: str
    aggregateid: str
    type: str
    payload: Mapping[str, Any]
    correlation_id: str
    causation_id: str


@record
class SagaRow:
    """Persisted state of one :class:`~legacy_app.orderflow.saga.OrderSaga`."""

    order_id: str
    state: str
    steps: tuple[str, ...]
    updated_at: datetime


@record
class AnalyticsRow:
    """Increments of orders, quantity and revenue for one product in one minute."""

    minute: datetime
    sku: str
    orders: int
    quantity: int
    revenue: Decimal


@dataclass(slots=True)
class Changes:
    """Rows to write; merge several into one with :meth:`merge`."""

    processed: list[ProcessedRow] = field(default_factory=list)
    reservations: dict[tuple[str, str], ReservationRow] = field(default_factory=dict)
    stock_delta: dict[str, int] = field(default_factory=dict)
    payments: dict[str, PaymentRow] = field(default_factory=dict)
    shipments: dict[str, ShipmentRow] = field(default_factory=dict)
    notifications: dict[tuple[str, str], NotificationRow] = field(default_factory=dict)
    orders: dict[str, OrderStatusRow] = field(default_factory=dict)
    outbox: list[OutboxRow] = field(default_factory=list)
    sagas: dict[str, SagaRow] = field(default_factory=dict)
    analytics: dict[tuple[datetime, str], AnalyticsRow] = field(default_factory=dict)

    def put_order(self, row: OrderStatusRow) -> None:
        """Upsert the order row, never moving a final status back to an earlier one."""
        old = self.orders.get(row.order_id)
        if old is None or row.rank >= old.rank:
            self.orders[row.order_id] = row

    def add_analytics(self, row: AnalyticsRow) -> None:
        key = (row.minute, row.sku)
        old = self.analytics.get(key)
        if old is not None:
            row = AnalyticsRow(
                row.minute,
                row.sku,
                old.orders + row.orders,
                old.quantity + row.quantity,
                old.revenue + row.revenue,
            )
        self.analytics[key] = row

    def merge(self, other: Changes) -> None:
        """Apply ``other`` on top of this buffer (one message's buffer fills few tables)."""
        if other.processed:
            self.processed.extend(other.processed)
        if other.reservations:
            self.reservations.update(other.reservations)
        if other.stock_delta:
            for sku, delta in other.stock_delta.items():
                self.stock_delta[sku] = self.stock_delta.get(sku, 0) + delta
        if other.payments:
            self.payments.update(other.payments)
        if other.shipments:
            self.shipments.update(other.shipments)
        if other.notifications:
            self.notifications.update(other.notifications)
        for row in other.orders.values():
            self.put_order(row)
        if other.outbox:
            self.outbox.extend(other.outbox)
        if other.sagas:
            self.sagas.update(other.sagas)
        for arow in other.analytics.values():
            self.add_analytics(arow)

    def is_empty(self) -> bool:
        return not (
            self.processed
            or self.reservations
            or self.stock_delta
            or self.payments
            or self.shipments
            or self.notifications
            or self.orders
            or self.outbox
            or self.sagas
            or self.analytics
        )
