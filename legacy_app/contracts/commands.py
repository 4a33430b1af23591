"""Commands: requests to do something, kept distinct from events.

An event is an immutable fact in the past tense (``order.created``); a command is an
imperative request (``CreateOrder``) that the receiver may refuse. A command's type has no
dot and is PascalCase, so the two can never be confused.
"""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta

from cutover.contracts import Contract
from legacy_app.contracts.values import (
    CURRENCY,
    Carrier,
    Currency,
    Id,
    Money,
    OrderContract,
    OrderItem,
    PaymentMethod,
    StockLine,
)

Items = Annotated[tuple[OrderItem, ...], Meta(min_length=1)]
Stock = Annotated[tuple[StockLine, ...], Meta(min_length=1)]


class CreateOrder(Contract, frozen=True):
    """Ask the order service to accept an order (what ``POST /orders`` carries)."""

    type = "CreateOrder"
    version = 1
    aggregate_type = "order"
    subject_field = "customer_id"

    customer_id: Id
    items: Items
    payment_method: PaymentMethod = "card"


class ReserveInventory(OrderContract, frozen=True):
    """Ask the inventory context to reserve every line of an order (all or nothing)."""

    type = "ReserveInventory"
    version = 1

    order_id: Id
    items: Stock


class ProcessPayment(OrderContract, frozen=True):
    """Ask the payment context to charge an order's total."""

    type = "ProcessPayment"
    version = 1

    order_id: Id
    amount: Money
    payment_method: PaymentMethod = "card"
    currency: Currency = CURRENCY


class ShipOrder(OrderContract, frozen=True):
    """Ask the shipping context to ship a paid order."""

    type = "ShipOrder"
    version = 1

    order_id: Id
    carrier: Carrier


COMMANDS: tuple[type[Contract], ...] = (CreateOrder, ReserveInventory, ProcessPayment, ShipOrder)
