"""Business invariants checked on the outcome records of each side, on top of the diff.

An invariant sees every record one side produced for one key (more than one
when an effect was applied twice) and returns ``None`` when it holds or a short
reason when it is violated. The plan names built-ins; a custom one is a
``"module:function"`` with the same signature.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from comparators.errors import ImportTargetError, UnknownInvariantError
from comparators.rules import load_target
from comparators.values import parse_decimal

Records = Sequence[Mapping[str, Any]]
CheckFn = Callable[[Records], "str | None"]


@runtime_checkable
class Invariant(Protocol):
    """A named rule over the records one side produced for one key."""

    @property
    def name(self) -> str: ...

    def check(self, records: Records) -> str | None:
        """``None`` when it holds, else the reason it does not."""
        ...


@dataclass(frozen=True, slots=True)
class FunctionInvariant:
    """An invariant backed by a plain function."""

    name: str
    fn: CheckFn

    def check(self, records: Records) -> str | None:
        return self.fn(records)


@dataclass(frozen=True, slots=True)
class Violation:
    """An invariant that does not hold for one key on one side."""

    invariant: str
    side: str
    key: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {
            "invariant": self.invariant,
            "side": self.side,
            "key": self.key,
            "reason": self.reason,
        }


def _captured(records: Records) -> list[Mapping[str, Any]]:
    return [
        r["payment"]
        for r in records
        if isinstance(r.get("payment"), Mapping) and r["payment"].get("status") == "captured"
    ]


def _completed(records: Records) -> bool:
    return any(r.get("status") == "completed" for r in records)


def payment_captured_once(records: Records) -> str | None:
    """A completed order has exactly one captured payment, in one attempt; others none."""
    captured = _captured(records)
    if len(captured) > 1:
        return f"payment captured {len(captured)} times"
    if _completed(records) and not captured:
        return "completed order without a captured payment"
    if captured and int(captured[0].get("attempts", 1)) != 1:
        return f"payment captured after {captured[0].get('attempts')} attempts"
    return None


def payment_equals_total(records: Records) -> str | None:
    """A captured amount equals the order total."""
    for rec in records:
        for pay in _captured([rec]):
            amount, total = parse_decimal(pay.get("amount")), parse_decimal(rec.get("total"))
            if amount is None or total is None or amount != total:
                return f"captured {pay.get('amount')} but total is {rec.get('total')}"
    return None


def stock_decremented_exactly(records: Records) -> str | None:
    """A completed order holds a reservation (not released) with positive quantities,
    matching the ordered ``items`` when the record carries them; others hold none."""
    for rec in records:
        res = rec.get("reservation")
        held = isinstance(res, Mapping) and not res.get("released", False)
        lines = list(res.get("lines", [])) if isinstance(res, Mapping) else []
        if rec.get("status") != "completed":
            if held and lines:
                return "stock still reserved for an order that did not complete"
            continue
        if not held or not lines:
            return "completed order without a held reservation"
        reserved: Counter[str] = Counter()
        for line in lines:
            reserved[str(line.get("sku"))] += int(line.get("qty", 0))
        if any(q <= 0 for q in reserved.values()):
            return "reservation with a non-positive quantity"
        items = rec.get("items")
        if isinstance(items, list):
            ordered: Counter[str] = Counter()
            for item in items:
                ordered[str(item.get("sku"))] += int(item.get("qty", 0))
            if ordered != reserved:
                return f"reserved {dict(reserved)} but ordered {dict(ordered)}"
    return None


def one_shipment_per_paid_order(records: Records) -> str | None:
    """Exactly one shipment when the payment was captured, none otherwise."""
    shipments = sum(1 for r in records if r.get("shipment") is not None)
    paid = bool(_captured(records))
    if paid and shipments != 1:
        return f"paid order with {shipments} shipments"
    if not paid and shipments:
        return "shipment for an unpaid order"
    return None


def one_notification_per_order(records: Records) -> str | None:
    """Exactly one notification per order (confirmation or failure notice)."""
    count = sum(len(r.get("notifications") or []) for r in records)
    return None if count == 1 else f"{count} notifications"


def no_effect_for_failed_order(records: Records) -> str | None:
    """A failed order captured nothing, shipped nothing and holds no stock."""
    for rec in records:
        if rec.get("status") != "failed":
            continue
        if _captured([rec]):
            return "failed order with a captured payment"
        if rec.get("shipment") is not None:
            return "failed order with a shipment"
        res = rec.get("reservation")
        if isinstance(res, Mapping) and res.get("lines") and not res.get("released", False):
            return "failed order still holding stock"
    return None


BUILTIN: dict[str, CheckFn] = {
    fn.__name__: fn
    for fn in (
        payment_captured_once,
        payment_equals_total,
        stock_decremented_exactly,
        one_shipment_per_paid_order,
        one_notification_per_order,
        no_effect_for_failed_order,
    )
}


def resolve(name: str) -> Invariant:
    """A built-in invariant by name, or a custom one from ``"module:function"``."""
    if name in BUILTIN:
        return FunctionInvariant(name, BUILTIN[name])
    if ":" not in name:
        raise UnknownInvariantError(name)
    obj = load_target(name)
    if isinstance(obj, Invariant):
        return obj
    if not callable(obj):
        raise ImportTargetError(name, "not callable")
    return FunctionInvariant(name, obj)


def resolve_all(names: Sequence[str]) -> tuple[Invariant, ...]:
    return tuple(resolve(n) for n in names)


def check_all(
    invariants: Sequence[Invariant], side: str, key: str, records: Records
) -> list[Violation]:
    """Every violation of ``invariants`` for one key on one side."""
    out: list[Violation] = []
    for inv in invariants:
        reason = inv.check(records)
        if reason is not None:
            out.append(Violation(inv.name, side, key, reason))
    return out
