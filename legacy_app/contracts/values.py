"""Value types shared by the sample's contracts: lines, amounts, identifiers.

Amounts are :class:`~decimal.Decimal` in memory, quantized to two places when a value is
built or decoded, and text with two decimals on the wire. The lines are frozen dataclasses
(msgspec encodes, decodes and describes them like structs).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Annotated, Literal

from msgspec import Meta, Struct
from msgspec.structs import force_setattr

from cutover.contracts import Contract

CURRENCY = "EUR"
CENT = Decimal("0.01")
AMOUNT_PATTERN = r"^[0-9]+\.[0-9]{2}$"

Id = Annotated[str, Meta(min_length=1)]
Text = Annotated[str, Meta(min_length=1)]
Email = Annotated[str, Meta(pattern=r"^[^@\s]+@[^@\s]+$")]
Currency = Annotated[str, Meta(pattern=r"^[A-Z]{3}$")]
Quantity = Annotated[int, Meta(ge=1)]
Attempts = Annotated[int, Meta(ge=1)]
Money = Annotated[
    Decimal,
    Meta(extra_json_schema={"pattern": AMOUNT_PATTERN, "description": "amount, 2 decimals"}),
]
PaymentMethod = Literal["card", "card_declined"]
Carrier = Literal["standard", "express"]
Template = Literal["order_confirmation", "order_failed", "payment_declined"]


def money(value: Decimal | int | str | float) -> Decimal:
    """Amount to two places, banker's rounding; floats go through ``str`` to avoid binary noise."""
    dec = value if isinstance(value, Decimal) else Decimal(str(value))
    return dec.quantize(CENT, rounding=ROUND_HALF_EVEN)


def money_str(value: Decimal | int | str | float) -> str:
    """An amount as a string with two decimals (the wire form of every amount)."""
    return str(money(value))


def _quantize(struct: Struct) -> None:
    for name in struct.__struct_fields__:
        value = getattr(struct, name)
        if type(value) is Decimal:
            force_setattr(struct, name, money(value))


class OrderContract(Contract, frozen=True):
    """Base of the contracts about one order: routed by ``aggregate_type = "order"`` and keyed
    by the order id, so one order's events share a partition and keep their order."""

    aggregate_type = "order"
    subject_field = "order_id"

    def __post_init__(self) -> None:
        _quantize(self)


@dataclass(frozen=True, slots=True)
class OrderItem:
    """A requested line: a product and a quantity (no price yet)."""

    sku: Id
    qty: Quantity


StockLine = OrderItem
"""A reserved or released quantity of one SKU (same shape as a requested line)."""


@dataclass(frozen=True, slots=True)
class OrderLine:
    """A priced order line, as the order service accepted it."""

    sku: Id
    qty: Quantity
    unit_price: Money

    def __post_init__(self) -> None:
        if type(self.unit_price) is not Decimal or self.unit_price.as_tuple().exponent != -2:
            object.__setattr__(self, "unit_price", money(self.unit_price))

    @property
    def amount(self) -> Decimal:
        return money(self.unit_price * self.qty)
