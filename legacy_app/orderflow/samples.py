"""Sample ``order.created`` events for tests, benchmarks and rehearsals (the shared contract).

``order_payload`` prices lines from the seed catalogue (``SKU-0001``..``SKU-0050``
at 5.00 + 1.25*n; ``SKU-OOS-*`` at 9.99) so totals are what the sync side computes.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from cutover.shadow import Headers


def unit_price(sku: str) -> Decimal:
    """The catalogue price of ``sku``."""
    if sku.startswith("SKU-OOS-"):
        return Decimal("9.99")
    return Decimal("5.00") + Decimal("1.25") * int(sku.removeprefix("SKU-"))


def order_payload(
    order_id: str | None = None,
    lines: Sequence[tuple[str, int]] = (("SKU-0001", 1),),
    *,
    payment_method: str = "card",
    email: str = "buyer@example.com",
    customer_id: str = "cust-1",
) -> dict[str, Any]:
    """An ``order.created`` payload with catalogue prices and the right total."""
    items = [{"sku": s, "qty": q, "unit_price": str(unit_price(s))} for s, q in lines]
    total = sum((unit_price(s) * q for s, q in lines), Decimal("0.00"))
    return {
        "order_id": order_id or str(uuid.uuid4()),
        "customer_id": customer_id,
        "customer_email": email,
        "items": items,
        "total": str(total.quantize(Decimal("0.01"))),
        "currency": "EUR",
        "payment_method": payment_method,
    }


def outbox_headers(
    event_id: str,
    event_type: str = "order.created",
    correlation_id: str = "",
    causation_id: str = "",
) -> Headers:
    """Headers as the Outbox Event Router writes them."""
    pairs = [("id", event_id), ("type", event_type), ("correlation_id", correlation_id)]
    if causation_id:
        pairs.append(("causation_id", causation_id))
    return tuple((k, v.encode()) for k, v in pairs)


def outbox_value(payload: dict[str, Any]) -> bytes:
    """The record value: the payload JSON."""
    return json.dumps(payload, separators=(",", ":")).encode()


def outbox_row(
    payload: dict[str, Any], *, event_id: str | None = None, correlation_id: str = ""
) -> dict[str, Any]:
    """Column values of a legacy ``outbox`` insert for this ``order.created`` payload."""
    return {
        "id": event_id or str(uuid.uuid4()),
        "aggregatetype": "order",
        "aggregateid": payload["order_id"],
        "type": "order.created",
        "payload": json.dumps(payload),
        "correlation_id": correlation_id or str(uuid.uuid4()),
        "causation_id": None,
    }


OUTBOX_DDL = """
CREATE TABLE IF NOT EXISTS outbox (
    id uuid PRIMARY KEY, aggregatetype varchar(255) NOT NULL, aggregateid varchar(255) NOT NULL,
    type varchar(255) NOT NULL, payload jsonb NOT NULL, correlation_id varchar(255),
    causation_id varchar(255), created_at timestamptz NOT NULL DEFAULT now())
"""

INSERT_OUTBOX = (
    "INSERT INTO outbox (id, aggregatetype, aggregateid, type, payload, correlation_id, "
    "causation_id) "
    "VALUES (%(id)s, %(aggregatetype)s, %(aggregateid)s, %(type)s, %(payload)s::jsonb, "
    "%(correlation_id)s, %(causation_id)s)"
)
