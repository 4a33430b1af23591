"""Domain events of the sample: immutable facts about one order, one struct each.

``type``/``version`` name the JSON Schema (``legacy_app/contracts/<type>.v<version>.json``,
generated from these structs); ``subject`` (the order id) is the Kafka key and the outbox
``aggregateid``; all of them route by ``aggregate_type = "order"``, so one order's events
share a topic partition and keep their order.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from msgspec import Meta

from legacy_app.contracts.values import (
    CURRENCY,
    Attempts,
    Carrier,
    Currency,
    Email,
    Id,
    Money,
    OrderContract,
    OrderLine,
    PaymentMethod,
    StockLine,
    Template,
    Text,
    money,
)

Lines = Annotated[tuple[OrderLine, ...], Meta(min_length=1)]
Stock = Annotated[tuple[StockLine, ...], Meta(min_length=1)]

EXPRESS_THRESHOLD = Decimal("100.00")


def carrier_for(total: Decimal) -> Carrier:
    """The sample's shipping rule: ``express`` from 100.00 up, else ``standard``."""
    return "express" if money(total) >= EXPRESS_THRESHOLD else "standard"


class OrderCreated(OrderContract, frozen=True):
    """The order was accepted (validated and stored); nothing reserved or charged yet."""

    type = "order.created"
    version = 1

    order_id: Id
    customer_id: Id
    customer_email: Email
    items: Lines
    total: Money
    payment_method: PaymentMethod = "card"
    currency: Currency = CURRENCY


class InventoryReserved(OrderContract, frozen=True):
    """Every line of the order was reserved."""

    type = "inventory.reserved"
    version = 1

    order_id: Id
    items: Stock


class InventoryReleased(OrderContract, frozen=True):
    """A reservation was given back (compensation), e.g. after a declined payment."""

    type = "inventory.released"
    version = 1

    order_id: Id
    items: Stock
    reason: Text


class PaymentCompleted(OrderContract, frozen=True):
    """The order total was captured."""

    type = "payment.completed"
    version = 1

    order_id: Id
    amount: Money
    payment_method: PaymentMethod = "card"
    attempts: Attempts = 1
    currency: Currency = CURRENCY


class PaymentFailed(OrderContract, frozen=True):
    """The charge was declined (``reason`` e.g. ``card_declined``); nothing was captured."""

    type = "payment.failed"
    version = 1

    order_id: Id
    amount: Money
    reason: Text
    payment_method: PaymentMethod = "card_declined"
    attempts: Attempts = 1
    currency: Currency = CURRENCY


class ShipmentCreated(OrderContract, frozen=True):
    """A shipment was created for a paid order."""

    type = "shipment.created"
    version = 1

    order_id: Id
    carrier: Carrier
    status: Text = "created"


class NotificationSent(OrderContract, frozen=True):
    """A notification was recorded for the order (nothing is really sent)."""

    type = "notification.sent"
    version = 1

    order_id: Id
    template: Template
    recipient: Email


class OrderCompleted(OrderContract, frozen=True):
    """The order was reserved, paid, shipped and confirmed."""

    type = "order.completed"
    version = 1

    order_id: Id
    total: Money
    currency: Currency = CURRENCY


class OrderFailed(OrderContract, frozen=True):
    """The order ended unfulfilled; ``reason`` e.g. ``out_of_stock`` or ``payment_declined``."""

    type = "order.failed"
    version = 1

    order_id: Id
    reason: Text
    total: Money
    currency: Currency = CURRENCY


DOMAIN_EVENTS: tuple[type[OrderContract], ...] = (
    OrderCreated,
    InventoryReserved,
    InventoryReleased,
    PaymentCompleted,
    PaymentFailed,
    ShipmentCreated,
    NotificationSent,
    OrderCompleted,
    OrderFailed,
)
