"""Commands: requests to do something, kept distinct from events.

An event is an immutable fact in the past tense (``order.created``); a command
is an imperative request (``CreateOrder``) that the receiver may refuse. A
command's type has no dot and is PascalCase, so the two can never be confused;
handling one yields a :class:`CommandResult` — accepted with the events it
caused, or rejected with a reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from events.domain import Carrier, PaymentMethod
from events.outcome import money
from events.values import CURRENCY, OrderItem, StockLine, items_to_list, money_str

if TYPE_CHECKING:
    from events.envelope import Envelope


@dataclass(frozen=True, slots=True)
class CreateOrder:
    """Ask the order service to accept an order (what ``POST /orders`` carries)."""

    type: ClassVar[str] = "CreateOrder"
    version: ClassVar[int] = 1
    aggregate_type: ClassVar[str] = "order"

    customer_id: str
    items: tuple[OrderItem, ...]
    payment_method: PaymentMethod = "card"

    @property
    def subject(self) -> str:
        return self.customer_id

    def to_dict(self) -> dict[str, Any]:
        return {
            "customer_id": str(self.customer_id),
            "items": items_to_list(self.items),
            "payment_method": self.payment_method,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CreateOrder:
        items = tuple(OrderItem.from_dict(x) for x in data["items"])
        return cls(str(data["customer_id"]), items, data.get("payment_method", "card"))


@dataclass(frozen=True, slots=True)
class ReserveInventory:
    """Ask the inventory context to reserve every line of an order (all or nothing)."""

    type: ClassVar[str] = "ReserveInventory"
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
    def from_dict(cls, data: dict[str, Any]) -> ReserveInventory:
        return cls(str(data["order_id"]), tuple(StockLine.from_dict(x) for x in data["items"]))


@dataclass(frozen=True, slots=True)
class ProcessPayment:
    """Ask the payment context to charge an order's total."""

    type: ClassVar[str] = "ProcessPayment"
    version: ClassVar[int] = 1
    aggregate_type: ClassVar[str] = "order"

    order_id: str
    amount: Decimal
    payment_method: PaymentMethod = "card"
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
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProcessPayment:
        return cls(
            order_id=str(data["order_id"]),
            amount=money(data["amount"]),
            payment_method=data.get("payment_method", "card"),
            currency=str(data.get("currency", CURRENCY)),
        )


@dataclass(frozen=True, slots=True)
class ShipOrder:
    """Ask the shipping context to ship a paid order."""

    type: ClassVar[str] = "ShipOrder"
    version: ClassVar[int] = 1
    aggregate_type: ClassVar[str] = "order"

    order_id: str
    carrier: Carrier

    @property
    def subject(self) -> str:
        return self.order_id

    def to_dict(self) -> dict[str, Any]:
        return {"order_id": str(self.order_id), "carrier": self.carrier}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ShipOrder:
        return cls(str(data["order_id"]), data["carrier"])


@dataclass(frozen=True, slots=True)
class CommandResult:
    """What handling a command gave: accepted (with the events it caused) or rejected."""

    command_id: str
    accepted: bool
    reason: str | None = None
    events: tuple[Envelope, ...] = ()

    @classmethod
    def accept(cls, command_id: str, *events: Envelope) -> CommandResult:
        return cls(command_id, True, None, tuple(events))

    @classmethod
    def reject(cls, command_id: str, reason: str) -> CommandResult:
        return cls(command_id, False, reason)


COMMANDS: tuple[type[Any], ...] = (CreateOrder, ReserveInventory, ProcessPayment, ShipOrder)
