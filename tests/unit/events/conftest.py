"""Sample payloads of every type, shared by the events unit tests."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from events.commands import CreateOrder, ProcessPayment, ReserveInventory, ShipOrder
from events.domain import (
    InventoryReleased,
    InventoryReserved,
    NotificationSent,
    OrderCompleted,
    OrderCreated,
    OrderFailed,
    PaymentCompleted,
    PaymentFailed,
    ShipmentCreated,
)
from events.integration import CustomerCreated
from events.values import OrderItem, OrderLine

LINES = (OrderLine("SKU-0001", 2, Decimal("6.25")), OrderLine("SKU-0010", 1, Decimal("17.5")))
STOCK = (OrderItem("SKU-0001", 2), OrderItem("SKU-0010", 1))

SAMPLES: list[Any] = [
    OrderCreated("o-1", "c-1", "ann@example.com", LINES, Decimal("30.00"), "card"),
    InventoryReserved("o-1", STOCK),
    InventoryReleased("o-1", STOCK, "payment_declined"),
    PaymentCompleted("o-1", Decimal("30"), "card"),
    PaymentFailed("o-1", Decimal("30"), "card_declined"),
    ShipmentCreated("o-1", "standard"),
    NotificationSent("o-1", "order_confirmation", "ann@example.com"),
    OrderCompleted("o-1", Decimal("30")),
    OrderFailed("o-1", "out_of_stock", Decimal("9.99")),
    CustomerCreated("c-1", "Ann", "ann@example.com"),
    CreateOrder("c-1", STOCK, "card_declined"),
    ReserveInventory("o-1", STOCK),
    ProcessPayment("o-1", Decimal("30")),
    ShipOrder("o-1", "express"),
]


@pytest.fixture
def order_created() -> OrderCreated:
    return SAMPLES[0]
