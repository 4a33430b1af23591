from __future__ import annotations

import dataclasses
from decimal import Decimal, InvalidOperation
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from events.catalog import CATALOG, get_spec, is_command, schema_errors
from events.commands import CommandResult
from events.domain import DOMAIN_EVENTS, OrderCreated, carrier_for
from events.envelope import Envelope
from events.errors import UnknownEventTypeError
from events.outcome import money
from events.values import money_str
from tests.unit.events.conftest import SAMPLES


@pytest.mark.parametrize("payload", SAMPLES, ids=lambda p: p.type)
def test_payload_round_trips_through_dict(payload: Any) -> None:
    assert type(payload).from_dict(payload.to_dict()) == payload


@pytest.mark.parametrize("payload", SAMPLES, ids=lambda p: p.type)
def test_payload_satisfies_its_packaged_schema(payload: Any) -> None:
    assert schema_errors(payload.type, payload.version, payload.to_dict()) == []


@pytest.mark.parametrize("payload", SAMPLES, ids=lambda p: p.type)
def test_payloads_are_frozen(payload: Any) -> None:
    first = dataclasses.fields(payload)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(payload, first, "x")
    assert not hasattr(payload, "__dict__")


def test_order_created_payload_matches_the_contract(order_created: OrderCreated) -> None:
    assert order_created.to_dict() == {
        "order_id": "o-1",
        "customer_id": "c-1",
        "customer_email": "ann@example.com",
        "items": [
            {"sku": "SKU-0001", "qty": 2, "unit_price": "6.25"},
            {"sku": "SKU-0010", "qty": 1, "unit_price": "17.50"},
        ],
        "total": "30.00",
        "currency": "EUR",
        "payment_method": "card",
    }


def test_integer_ids_are_sent_as_text() -> None:
    created = OrderCreated(7, 3, "a@b.c", (), Decimal(1))  # type: ignore[arg-type]
    assert (created.to_dict()["order_id"], created.to_dict()["customer_id"]) == ("7", "3")


def test_amounts_are_strings_with_two_places() -> None:
    from events.domain import PaymentCompleted

    data = PaymentCompleted("o", Decimal("12.345")).to_dict()
    assert data["amount"] == "12.34"  # banker's rounding, like the outcome record
    assert PaymentCompleted.from_dict({"order_id": "o", "amount": "7"}).amount == Decimal("7.00")


@pytest.mark.parametrize(
    ("total", "carrier"),
    [(Decimal("99.99"), "standard"), (Decimal("100.00"), "express"), (Decimal(250), "express")],
)
def test_carrier_rule(total: Decimal, carrier: str) -> None:
    assert carrier_for(total) == carrier


def test_every_domain_event_is_in_the_catalogue_keyed_by_order() -> None:
    expected = {
        "order.created",
        "inventory.reserved",
        "inventory.released",
        "payment.completed",
        "payment.failed",
        "shipment.created",
        "notification.sent",
        "order.completed",
        "order.failed",
    }
    assert {cls.type for cls in DOMAIN_EVENTS} == expected
    assert all(
        get_spec(t).kind == "event" and get_spec(t).aggregate_type == "order" for t in expected
    )


def test_commands_are_kept_apart_from_events() -> None:
    commands = {t for t, s in CATALOG.items() if s.kind == "command"}
    assert commands == {"CreateOrder", "ReserveInventory", "ProcessPayment", "ShipOrder"}
    assert all("." not in t for t in commands)
    assert is_command("CreateOrder") and not is_command("order.created")


def test_integration_event_has_source_and_version() -> None:
    from events.integration import CustomerCreated

    env = Envelope.of(CustomerCreated("c-1", "Ann", "a@b.c"))
    assert (env.source, env.version, get_spec(env.type).kind) == (
        "/legacy_app/customers",
        2,
        "integration",
    )
    assert get_spec(env.type).versions == (1, 2)


def test_unknown_type_is_a_typed_error() -> None:
    with pytest.raises(UnknownEventTypeError) as info:
        get_spec("order.teleported")
    assert info.value.event_type == "order.teleported"


def test_command_result_accept_and_reject() -> None:
    env = Envelope.new("order.created", {})
    assert CommandResult.accept("cmd-1", env) == CommandResult("cmd-1", True, None, (env,))
    rejected = CommandResult.reject("cmd-2", "out_of_stock")
    assert (rejected.accepted, rejected.reason, rejected.events) == (False, "out_of_stock", ())


@given(
    st.decimals(allow_nan=False, allow_infinity=False)
    | st.decimals(allow_nan=False, allow_infinity=False, places=2)
    | st.integers(-(10**12), 10**12)
)
def test_money_str_is_the_quantized_amount(value: Decimal | int) -> None:
    """The fast path for amounts already at two places agrees with quantizing every time."""
    try:
        expected = str(money(value))
    except InvalidOperation:  # beyond the context's precision
        with pytest.raises(InvalidOperation):
            money_str(value)
        return
    assert money_str(value) == expected


def test_money_str_of_an_amount_beyond_precision_still_raises() -> None:
    with pytest.raises(InvalidOperation):
        money_str(Decimal("123456789012345678901234567890.12"))
