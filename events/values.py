"""Small value types shared by event and command payloads (lines, money)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from events.outcome import money

CURRENCY = "EUR"


def money_str(value: Decimal | int | str | float) -> str:
    """An amount as a string with two decimals (the wire form of every amount)."""
    if type(value) is Decimal:
        text = str(value)
        if len(text) <= 20 and text[-3:-2] == "." and text[-2:].isdigit():
            return text  # two places already (and well within precision): nothing to quantize
    return str(money(value))


@dataclass(frozen=True, slots=True)
class OrderItem:
    """A requested line: a product and a quantity (no price yet)."""

    sku: str
    qty: int

    def to_dict(self) -> dict[str, Any]:
        return {"sku": self.sku, "qty": self.qty}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OrderItem:
        return cls(sku=str(data["sku"]), qty=int(data["qty"]))


StockLine = OrderItem
"""A reserved or released quantity of one SKU (same shape as a requested line)."""


@dataclass(frozen=True, slots=True)
class OrderLine:
    """A priced order line, as the order service accepted it."""

    sku: str
    qty: int
    unit_price: Decimal

    @property
    def amount(self) -> Decimal:
        return money(self.unit_price * self.qty)

    def to_dict(self) -> dict[str, Any]:
        return {"sku": self.sku, "qty": self.qty, "unit_price": money_str(self.unit_price)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OrderLine:
        return cls(sku=str(data["sku"]), qty=int(data["qty"]), unit_price=money(data["unit_price"]))


def items_to_list(items: tuple[Any, ...]) -> list[dict[str, Any]]:
    return [item.to_dict() for item in items]
