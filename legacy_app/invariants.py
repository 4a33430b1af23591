"""The sample's business invariants, named in its plan like any team's (``module:function``).

Each sees every outcome record one side produced for one order (more than one when an effect
was applied twice) and returns ``None`` when it holds or a short reason when it does not: the
signature the comparators call (docs: "invariants" in the plan). The rehearsal's plan lists
them as ``legacy_app.invariants:payment_captured_once`` and so on (:data:`NAMES`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

Records = Sequence[Mapping[str, Any]]


def parse_decimal(value: Any) -> Decimal | None:
    """A Decimal for numbers and numeric strings, ``None`` for anything else."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, Decimal):
        return value
    try:
        return Decimal(str(value)) if isinstance(value, int | float | str) else None
    except InvalidOperation:
        return None


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


CHECKS: tuple[Callable[[Records], str | None], ...] = (
    payment_captured_once,
    payment_equals_total,
    stock_decremented_exactly,
    one_shipment_per_paid_order,
    one_notification_per_order,
    no_effect_for_failed_order,
)
"""Every invariant of the sample."""


def name_of(check: Callable[[Records], str | None]) -> str:
    """The plan's name of one of :data:`CHECKS` (``legacy_app.invariants:<function>``)."""
    return f"{__name__}:{check.__name__}"


NAMES: tuple[str, ...] = tuple(name_of(fn) for fn in CHECKS)
"""The plan's names of :data:`CHECKS`, as the rehearsal's plan lists them."""
