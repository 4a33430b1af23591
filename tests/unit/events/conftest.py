"""Sample payloads of every type, and the sample's contracts directory they are judged by,
shared by the events unit tests (the library's tests use the sample like any team's
contracts)."""

from __future__ import annotations

from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from events.registry import ContractRegistry
from legacy_app.contracts.commands import CreateOrder, ProcessPayment, ReserveInventory, ShipOrder
from legacy_app.contracts.domain import (
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
from legacy_app.contracts.integration import CustomerCreated
from legacy_app.contracts.values import OrderItem, OrderLine

SAMPLE_CONTRACTS = Path(__file__).resolve().parents[3] / "legacy_app" / "contracts"
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


@cache
def sample_contracts() -> ContractRegistry:
    """The sample's contracts directory (``legacy_app/contracts``), loaded once."""
    return ContractRegistry.load(SAMPLE_CONTRACTS)


@pytest.fixture
def contracts() -> ContractRegistry:
    return sample_contracts()


@pytest.fixture
def order_created() -> OrderCreated:
    return SAMPLES[0]
