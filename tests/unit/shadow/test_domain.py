from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from legacy_app.orderflow.domain import Order, _parse_checked, parse_order
from legacy_app.orderflow.samples import order_payload
from shadow.errors import PoisonMessageError
from tests.unit.events.conftest import sample_contracts


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
    assert sample_contracts().errors("order.created", payload, 1), (
        "the events schema rejects it too"
    )
    with pytest.raises(PoisonMessageError) as info:
        parse_order(payload)
    assert info.value.kind == "schema_invalid"


def test_bad_line_quantity_is_schema_invalid() -> None:
    payload = order_payload("o-4")
    payload["items"][0]["qty"] = 0
    with pytest.raises(PoisonMessageError, match="qty"):
        parse_order(payload)


def test_valid_sample_payload_satisfies_the_events_schema() -> None:
    assert (
        sample_contracts().errors("order.created", order_payload("o-5", [("SKU-OOS-1", 1)]), 1)
        == []
    )


_FIELD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["", "x", "12.50", "12.5", "+1.00", " 1.00", "EUR", "eur", "a@b", "a b@c",
                     "card", "card_declined", "cash", "1e2"]),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.sampled_from(["sku", "qty", "unit_price"]), st.integers(0, 2), max_size=3),
)  # fmt: skip
_FIELDS = ["order_id", "customer_id", "customer_email", "items", "total", "currency",
           "payment_method"]  # fmt: skip
_LINE_FIELDS = ["sku", "qty", "unit_price"]


def _verdict(parse: Callable[[dict[str, Any]], Order], payload: dict[str, Any]) -> Order | None:
    try:
        return parse(payload)
    except PoisonMessageError as exc:
        assert exc.kind == "schema_invalid"
        return None


@settings(max_examples=400, deadline=None)
@given(
    field=st.sampled_from(_FIELDS + [f"items.{f}" for f in _LINE_FIELDS]),
    value=_FIELD_VALUES,
    drop=st.booleans(),
)
def test_fast_and_checked_validators_agree(field: str, value: object, drop: bool) -> None:
    """The msgspec fast path accepts exactly what the hand-written checks accept, same result."""
    payload = order_payload("o-h", [("SKU-0001", 2), ("SKU-0002", 1)])
    target: dict[str, Any] = payload
    if field.startswith("items."):
        target, field = payload["items"][1], field.split(".", 1)[1]
    if drop:
        target.pop(field, None)
    else:
        target[field] = value
    assert _verdict(parse_order, payload) == _verdict(_parse_checked, payload)
