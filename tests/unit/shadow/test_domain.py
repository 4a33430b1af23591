from __future__ import annotations

from decimal import Decimal

import pytest

from events.catalog import schema_errors
from shadow.domain import parse_order
from shadow.errors import PoisonMessageError
from shadow.samples import order_payload


def test_parse_order_reads_lines_total_and_rules() -> None:
    order = parse_order(order_payload("o-1", [("SKU-0001", 2), ("SKU-0040", 1)]))
    assert order.total == Decimal("67.50")
    assert order.quantities() == {"SKU-0001": 2, "SKU-0040": 1}
    assert order.carrier() == "standard"
    assert not order.declines()


def test_express_from_one_hundred_and_decline_rule() -> None:
    order = parse_order(order_payload("o-2", [("SKU-0050", 2)], payment_method="card_declined"))
    assert order.total == Decimal("135.00")
    assert order.carrier() == "express"
    assert order.declines()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("items", []),
        ("total", 12.5),
        ("total", "12.5"),
        ("currency", "euro"),
        ("payment_method", "cash"),
        ("customer_email", "not-an-email"),
        ("order_id", ""),
        ("customer_id", None),
    ],
)
def test_payload_breaking_the_schema_is_schema_invalid(field: str, value: object) -> None:
    payload = order_payload("o-3")
    payload[field] = value
    assert schema_errors("order.created", 1, payload), "the events schema rejects it too"
    with pytest.raises(PoisonMessageError) as info:
        parse_order(payload)
    assert info.value.kind == "schema_invalid"


def test_bad_line_quantity_is_schema_invalid() -> None:
    payload = order_payload("o-4")
    payload["items"][0]["qty"] = 0
    with pytest.raises(PoisonMessageError, match="qty"):
        parse_order(payload)


def test_valid_sample_payload_satisfies_the_events_schema() -> None:
    assert schema_errors("order.created", 1, order_payload("o-5", [("SKU-OOS-1", 1)])) == []
