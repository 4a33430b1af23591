"""The sample's repair payloads: what ``cutover repair --payload legacy_app.repair:order_payload``
writes for an order whose event the shadow path never saw."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from legacy_app.invariants import parse_decimal


def order_payload(event_type: str, control: Mapping[str, Any]) -> dict[str, Any]:
    """Rebuild an event payload from the control outcome (the contract's shape where known).

    For ``order.created`` the fields the outcome carries are filled in
    (items from the reservation when the row has no ``items``); any other type
    carries the control outcome itself. Rows may add columns (``customer_id``,
    ``customer_email``, ``items``, ``payment_method``) to make it complete.
    """
    if event_type != "order.created":
        return {"order_id": str(control.get("order_id")), "outcome": dict(control), "repair": True}
    res = control.get("reservation")
    lines = res.get("lines", []) if isinstance(res, Mapping) else []
    items = control.get("items") or [{"sku": ln["sku"], "qty": ln["qty"]} for ln in lines]
    notes = control.get("notifications") or []
    email = control.get("customer_email") or (notes[0].get("recipient") if notes else None)
    total = parse_decimal(control.get("total"))
    payload: dict[str, Any] = {
        "order_id": str(control.get("order_id")),
        "customer_id": control.get("customer_id"),
        "customer_email": email,
        "items": items,
        "total": f"{total:.2f}" if total is not None else None,
        "currency": "EUR",
        "payment_method": control.get("payment_method"),
        "repair": True,
    }
    return payload
