"""The sample's order, parsed from event payloads, and the business rules the shadow applies.

The rules are the shared sample contract (see the team brief): a decline happens
iff ``payment_method == "card_declined"``; the carrier is ``express`` for totals of
100.00 or more, ``standard`` otherwise; an order is completed once shipped and
notified. Parsing doubles as the schema check of ``order.created`` (the same constraints as
``legacy_app/contracts/order.created.v1.json``): a payload that breaks the contract raises
:class:`~shadow.errors.PoisonMessageError` (``schema_invalid``), so it is dead-lettered
and never half-applied.

Two validators, one contract: :class:`_WireOrder` (a msgspec struct converted in C, plus
cached pattern checks: a few microseconds per order, where a jsonschema validation costs
more than the whole handler) takes every payload first; only a payload it refuses goes
through the hand-written checks, which name the bad field in the dead letter's reason.
``tests/unit/shadow/test_domain.py`` checks that both accept and refuse the same payloads.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import field
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

import msgspec

from cutover.shadow import PoisonMessageError, record
from legacy_app.contracts.values import money

DECLINING_METHOD = "card_declined"
PAYMENT_METHODS = frozenset({"card", DECLINING_METHOD})
_AMOUNT = re.compile(r"^[0-9]+\.[0-9]{2}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
EXPRESS_THRESHOLD = Decimal("100.00")


@record
class OrderLine:
    """One ordered product line."""

    sku: str
    qty: int
    unit_price: Decimal


@record
class Order:
    """The order as announced by ``order.created`` (and carried in every follow-up event)."""

    order_id: str
    customer_id: str
    customer_email: str
    items: tuple[OrderLine, ...]
    total: Decimal
    currency: str
    payment_method: str
    _quantities: Mapping[str, int] | None = field(
        default=None, init=False, compare=False, repr=False
    )

    def quantities(self) -> Mapping[str, int]:
        """Quantity per SKU (lines of the same SKU added up); computed once per order."""
        if self._quantities is None:
            out: dict[str, int] = {}
            for line in self.items:
                out[line.sku] = out.get(line.sku, 0) + line.qty
            object.__setattr__(self, "_quantities", out)  # a cache, not a field change
            return out
        return self._quantities

    def carrier(self) -> str:
        """``express`` for totals of 100.00 or more, else ``standard``."""
        return "express" if self.total >= EXPRESS_THRESHOLD else "standard"

    def declines(self) -> bool:
        """True when the (simulated) payment gateway declines this order."""
        return self.payment_method == DECLINING_METHOD

    def to_payload(self) -> dict[str, Any]:
        """The ``order.created`` payload shape (amounts as 2-decimal strings)."""
        return {
            "order_id": self.order_id,
            "customer_id": self.customer_id,
            "customer_email": self.customer_email,
            "items": [
                {"sku": ln.sku, "qty": ln.qty, "unit_price": str(ln.unit_price)}
                for ln in self.items
            ],
            "total": str(self.total),
            "currency": self.currency,
            "payment_method": self.payment_method,
        }


def _invalid(reason: str) -> PoisonMessageError:
    return PoisonMessageError("schema_invalid", reason, error_class="SchemaValidationError")


def _str(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise _invalid(f"{name}: expected a non-empty string, got {value!r}"[:200])
    return value


def _amount(value: Any, name: str) -> Decimal:
    if not isinstance(value, str) or not _AMOUNT.match(value):
        raise _invalid(f"{name}: expected an amount string like '12.50', got {value!r}"[:200])
    try:
        return money(value)
    except (InvalidOperation, ValueError) as exc:  # pragma: no cover - the pattern prevents it
        raise _invalid(f"{name}: not a decimal: {value!r}"[:200]) from exc


def _line(raw: Any, index: int) -> OrderLine:
    if not isinstance(raw, Mapping):
        raise _invalid(f"items[{index}]: expected an object")
    qty = raw.get("qty")
    if isinstance(qty, bool) or not isinstance(qty, int) or qty <= 0:
        raise _invalid(f"items[{index}].qty: expected a positive integer, got {qty!r}"[:200])
    return OrderLine(
        _str(raw, "sku"), qty, _amount(raw.get("unit_price"), f"items[{index}].unit_price")
    )


_Text = Annotated[str, msgspec.Meta(min_length=1)]


class _WireLine(msgspec.Struct, frozen=True):
    sku: _Text
    qty: Annotated[int, msgspec.Meta(gt=0)]
    unit_price: str


class _WireOrder(msgspec.Struct, frozen=True):
    """The shape of ``order.created`` v1 that the shadow relies on (extra keys allowed).

    The text patterns (amounts, e-mail, currency) are checked after conversion through small
    caches instead of msgspec patterns: a batch repeats the same prices, customers and
    currency, so a cached check is one dict lookup where a pattern costs a regex run.
    """

    order_id: _Text
    customer_id: _Text
    customer_email: str
    items: Annotated[list[_WireLine], msgspec.Meta(min_length=1)]
    total: str
    currency: str
    payment_method: Literal["card", "card_declined"]


@functools.lru_cache(maxsize=65536)
def _amount_or_none(text: str) -> Decimal | None:
    """``text`` as an amount if it is one like ``12.50`` (two places, so no quantize)."""
    return Decimal(text) if _AMOUNT.match(text) else None


@functools.lru_cache(maxsize=65536)
def _email_ok(text: str) -> bool:
    return _EMAIL.match(text) is not None


@functools.lru_cache(maxsize=256)
def _currency_ok(text: str) -> bool:
    return _CURRENCY.match(text) is not None


def parse_order(data: Mapping[str, Any]) -> Order:
    """Parse and check an ``order.created`` payload (or the ``order`` field of a follow-up)."""
    try:
        wire = msgspec.convert(data, _WireOrder, strict=True)
    except msgspec.ValidationError:
        return _parse_checked(data)  # raises with the name of the bad field
    total = _amount_or_none(wire.total)
    prices = [_amount_or_none(ln.unit_price) for ln in wire.items]
    if (
        total is None
        or None in prices
        or not _email_ok(wire.customer_email)
        or not _currency_ok(wire.currency)
    ):
        return _parse_checked(data)
    lines = tuple([
        OrderLine(ln.sku, ln.qty, price)
        for ln, price in zip(wire.items, prices, strict=True)
        if price is not None
    ])  # fmt: skip
    return Order(  # positional (a hot constructor): the fields in their declared order
        wire.order_id,
        wire.customer_id,
        wire.customer_email,
        lines,
        total,
        wire.currency,
        wire.payment_method,
    )


def _parse_checked(data: Mapping[str, Any]) -> Order:
    """The hand-written checks: slower, but the error names the field that breaks the contract."""
    items = data.get("items")
    if not isinstance(items, list) or not items:
        raise _invalid("items: expected a non-empty list")
    currency = _str(data, "currency")
    if not _CURRENCY.match(currency):
        raise _invalid(f"currency: expected a 3-letter code, got {currency!r}"[:200])
    email = _str(data, "customer_email")
    if not _EMAIL.match(email):
        raise _invalid("customer_email: not an e-mail address")
    method = _str(data, "payment_method")
    if method not in PAYMENT_METHODS:
        raise _invalid(
            f"payment_method: expected one of {sorted(PAYMENT_METHODS)}, got {method!r}"[:200]
        )
    return Order(
        order_id=_str(data, "order_id"),
        customer_id=_str(data, "customer_id"),
        customer_email=email,
        items=tuple(_line(raw, i) for i, raw in enumerate(items)),
        total=_amount(data.get("total"), "total"),
        currency=currency,
        payment_method=method,
    )


def order_of(payload: Mapping[str, Any]) -> Order:
    """The order carried by an event: the payload itself or its ``order`` field."""
    inner = payload.get("order")
    return parse_order(inner if isinstance(inner, Mapping) else payload)
