"""Domain events of the sample: immutable facts about one order.

Every payload is a frozen dataclass with ``to_dict``/``from_dict``; amounts are
:class:`~decimal.Decimal` in memory and strings with two decimals on the wire.
``type``/``version`` name the JSON Schema (``events/schemas/<type>.v<version>.json``);
``subject`` (the order id) is the Kafka key and the outbox ``aggregateid``; all
of them route by ``aggregate_type = "order"``, so one order's events share a
topic partition and keep their order.

``from_dict`` coerces types but does not validate: decode through
:func:`events.codec.decode`, which validates against the schema first.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar, Literal

from events.outcome import money
from events.values import CURRENCY, OrderLine, StockLine, items_to_list, money_str

PaymentMethod = Literal["card", "card_declined"]
Carrier = Literal["standard", "express"]
Template = Literal["order_confirmation", "order_failed", "payment_declined"]

EXPRESS_THRESHOLD = Decimal("100.00")


def carrier_for(total: Decimal) -> Carrier:
    """The sample's shipping rule: ``express`` from 100.00 up, else ``standard``."""
    return "express" if money(total) >= EXPRESS_THRESHOLD else "standard"


@dataclass(frozen=True, slots=True)
class OrderCreated:
    """The order was accepted (validated and stored); nothing reserved or charged yet."""

    type: ClassVar[str] = "order.created"
    version: ClassVar[int] = 1
    aggregate_type: ClassVar[str] = "order"

    order_id: str
    customer_id: str
    customer_email: str
    items: tuple[OrderLine, ...]
    total: Decimal
    payment_method: PaymentMethod = "card"
    currency: str = CURRENCY

    @property
    def subject(self) -> str:
        return self.order_id

    def to_dict(self) -> dict[str, Any]:
        return {
            "order_id": str(self.order_id),
            "customer_id": str(self.customer_id),
            "customer_email": self.customer_email,
            "items": items_to_list(self.items),
            "total": money_str(self.total),
            "currency": self.currency,
            "payment_method": self.payment_method,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OrderCreated:
        return cls(
            order_id=str(data["order_id"]),
            customer_id=str(data["customer_id"]),
            customer_email=str(data["customer_email"]),
            items=tuple(OrderLine.from_dict(x) for x in data["items"]),
            total=money(data["total"]),
            payment_method=data.get("payment_method", "card"),
            currency=str(data.get("currency", CURRENCY)),
        )


@dataclass(frozen=True, slots=True)
class InventoryReserved:
    """Every line of the order was reserved."""

    type: ClassVar[str] = "inventory.reserved"
    version: ClassVar[int] = 1
    aggregate_type: ClassVar[str] = "order"

    order_id: str
    items: tuple[StockLine, ...]

    @property
    def subject(self) -> str:
        return self.order_id

    def to_dict(self) -> dict[str, Any]:
        return {"order_id": str(self.order_id), "items": items_to_list(self.items)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InventoryReserved:
        return cls(str(data["order_id"]), tuple(StockLine.from_dict(x) for x in data["items"]))


@dataclass(frozen=True, slots=True)
class InventoryReleased:
    """A reservation was given back (compensation), e.g. after a declined payment."""

    type: ClassVar[str] = "inventory.released"
    version: ClassVar[int] = 1
    aggregate_type: ClassVar[str] = "order"

    order_id: str
    items: tuple[StockLine, ...]
    reason: str

    @property
    def subject(self) -> str:
        return self.order_id

    def to_dict(self) -> dict[str, Any]:
        return {
            "order_id": str(self.order_id),
            "items": items_to_list(self.items),
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InventoryReleased:
        items = tuple(StockLine.from_dict(x) for x in data["items"])
        return cls(str(data["order_id"]), items, str(data["reason"]))


@dataclass(frozen=True, slots=True)
class PaymentCompleted:
    """The order total was captured."""

    type: ClassVar[str] = "payment.completed"
    version: ClassVar[int] = 1
    aggregate_type: ClassVar[str] = "order"

    order_id: str
    amount: Decimal
    payment_method: PaymentMethod = "card"
    attempts: int = 1
    currency: str = CURRENCY

    @property
    def subject(self) -> str:
        return self.order_id

    def to_dict(self) -> dict[str, Any]:
        return {
            "order_id": str(self.order_id),
            "amount": money_str(self.amount),
            "currency": self.currency,
            "payment_method": self.payment_method,
            "attempts": self.attempts,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PaymentCompleted:
        return cls(
            order_id=str(data["order_id"]),
            amount=money(data["amount"]),
            payment_method=data.get("payment_method", "card"),
            attempts=int(data.get("attempts", 1)),
            currency=str(data.get("currency", CURRENCY)),
        )


@dataclass(frozen=True, slots=True)
class PaymentFailed:
    """The charge was declined (``reason`` e.g. ``card_declined``); nothing was captured."""

    type: ClassVar[str] = "payment.failed"
    version: ClassVar[int] = 1
    aggregate_type: ClassVar[str] = "order"

    order_id: str
    amount: Decimal
    reason: str
    payment_method: PaymentMethod = "card_declined"
    attempts: int = 1
    currency: str = CURRENCY

    @property
    def subject(self) -> str:
        return self.order_id

    def to_dict(self) -> dict[str, Any]:
        return {
            "order_id": str(self.order_id),
            "amount": money_str(self.amount),
            "currency": self.currency,
            "payment_method": self.payment_method,
            "reason": self.reason,
            "attempts": self.attempts,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PaymentFailed:
        return cls(
            order_id=str(data["order_id"]),
            amount=money(data["amount"]),
            reason=str(data["reason"]),
            payment_method=data.get("payment_method", "card_declined"),
            attempts=int(data.get("attempts", 1)),
            currency=str(data.get("currency", CURRENCY)),
        )


@dataclass(frozen=True, slots=True)
class ShipmentCreated:
    """A shipment was created for a paid order."""

    type: ClassVar[str] = "shipment.created"
    version: ClassVar[int] = 1
    aggregate_type: ClassVar[str] = "order"

    order_id: str
    carrier: Carrier
    status: str = "created"

    @property
    def subject(self) -> str:
        return self.order_id

    def to_dict(self) -> dict[str, Any]:
        return {"order_id": str(self.order_id), "carrier": self.carrier, "status": self.status}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ShipmentCreated:
        return cls(str(data["order_id"]), data["carrier"], str(data.get("status", "created")))


@dataclass(frozen=True, slots=True)
class NotificationSent:
    """A notification was recorded for the order (nothing is really sent)."""

    type: ClassVar[str] = "notification.sent"
    version: ClassVar[int] = 1
    aggregate_type: ClassVar[str] = "order"

    order_id: str
    template: Template
    recipient: str

    @property
    def subject(self) -> str:
        return self.order_id

    def to_dict(self) -> dict[str, Any]:
        return {
            "order_id": str(self.order_id),
            "template": self.template,
            "recipient": self.recipient,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NotificationSent:
        return cls(str(data["order_id"]), data["template"], str(data["recipient"]))


@dataclass(frozen=True, slots=True)
class OrderCompleted:
    """The order was reserved, paid, shipped and confirmed."""

    type: ClassVar[str] = "order.completed"
    version: ClassVar[int] = 1
    aggregate_type: ClassVar[str] = "order"

    order_id: str
    total: Decimal
    currency: str = CURRENCY

    @property
    def subject(self) -> str:
        return self.order_id

    def to_dict(self) -> dict[str, Any]:
        return {
            "order_id": str(self.order_id),
            "total": money_str(self.total),
            "currency": self.currency,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OrderCompleted:
        return cls(str(data["order_id"]), money(data["total"]), str(data.get("currency", CURRENCY)))


@dataclass(frozen=True, slots=True)
class OrderFailed:
    """The order ended unfulfilled; ``reason`` e.g. ``out_of_stock`` or ``payment_declined``."""

    type: ClassVar[str] = "order.failed"
    version: ClassVar[int] = 1
    aggregate_type: ClassVar[str] = "order"

    order_id: str
    reason: str
    total: Decimal
    currency: str = CURRENCY

    @property
    def subject(self) -> str:
        return self.order_id

    def to_dict(self) -> dict[str, Any]:
        return {
            "order_id": str(self.order_id),
            "reason": self.reason,
            "total": money_str(self.total),
            "currency": self.currency,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OrderFailed:
        return cls(
            order_id=str(data["order_id"]),
            reason=str(data["reason"]),
            total=money(data["total"]),
            currency=str(data.get("currency", CURRENCY)),
        )


DOMAIN_EVENTS: tuple[type[Any], ...] = (
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
