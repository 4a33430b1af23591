"""The sample's contracts (legacy_app/contracts): one msgspec struct per type, and the
directory of JSON Schemas generated from them that the rehearsal's plan names."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cutover.contracts import Contract, decode, encode, schema_files
from events.envelope import Envelope
from events.registry import ContractRegistry
from legacy_app.contracts import CONTRACTS
from legacy_app.contracts.commands import COMMANDS
from legacy_app.contracts.domain import (
    DOMAIN_EVENTS,
    OrderCreated,
    PaymentCompleted,
    carrier_for,
)
from legacy_app.contracts.integration import CustomerCreated
from legacy_app.contracts.values import money, money_str
from tests.unit.events.conftest import SAMPLE_CONTRACTS, SAMPLES, sample_contracts

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("payload", SAMPLES, ids=lambda p: p.type)
def test_payload_round_trips_through_json(payload: Contract) -> None:
    assert decode(type(payload), encode(payload)) == payload


@pytest.mark.parametrize("payload", SAMPLES, ids=lambda p: p.type)
def test_payload_satisfies_its_schema_in_the_directory(payload: Contract) -> None:
    assert sample_contracts().errors(payload.type, payload.to_dict(), payload.version) == []


@pytest.mark.parametrize("payload", SAMPLES, ids=lambda p: p.type)
def test_payloads_are_frozen(payload: Any) -> None:
    first = type(payload).__struct_fields__[0]
    with pytest.raises(AttributeError):
        setattr(payload, first, "x")
    assert not hasattr(payload, "__dict__")


def test_order_created_payload_matches_the_contract() -> None:
    order_created: OrderCreated = SAMPLES[0]
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


def test_amounts_are_strings_with_two_places() -> None:
    data = PaymentCompleted("o", Decimal("12.345")).to_dict()
    assert data["amount"] == "12.34"  # banker's rounding, like the outcome record
    decoded = decode(PaymentCompleted, {"order_id": "o", "amount": "7"})
    assert decoded.amount == Decimal("7.00")


@pytest.mark.parametrize(
    ("total", "carrier"),
    [(Decimal("99.99"), "standard"), (Decimal("100.00"), "express"), (Decimal(250), "express")],
)
def test_carrier_rule(total: Decimal, carrier: str) -> None:
    assert carrier_for(total) == carrier


def test_every_domain_event_is_keyed_by_order() -> None:
    assert {cls.type for cls in DOMAIN_EVENTS} == {
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
    assert {(c.aggregate_type, c.subject_field) for c in DOMAIN_EVENTS} == {("order", "order_id")}


def test_commands_are_kept_apart_from_events() -> None:
    commands = {cls.type for cls in COMMANDS}
    assert commands == {"CreateOrder", "ReserveInventory", "ProcessPayment", "ShipOrder"}
    assert all("." not in t for t in commands)
    assert all("." in cls.type for cls in DOMAIN_EVENTS)


def test_integration_event_has_source_and_version() -> None:
    env = Envelope.of(CustomerCreated("c-1", "Ann", "a@b.c"))
    assert (env.source, env.version, env.subject) == ("/legacy_app/customers", 2, "c-1")
    assert sample_contracts().versions(env.type) == (1, 2)


# -- the directory generated from the structs -------------------------------------------------
def _texts(directory: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(directory.glob("*.json"))}


def test_the_committed_schemas_are_what_the_structs_generate(tmp_path: Path) -> None:
    script = ROOT / "scripts" / "export_sample_contracts.py"
    subprocess.run([sys.executable, str(script), str(tmp_path)], check=True, capture_output=True)
    generated = _texts(tmp_path)
    committed = _texts(SAMPLE_CONTRACTS)
    assert generated == {name: committed[name] for name in generated}


def test_every_committed_schema_is_generated_or_an_older_version_of_a_struct() -> None:
    current = set(schema_files(CONTRACTS))
    older = set(_texts(SAMPLE_CONTRACTS)) - current
    assert older == {"integration.customer.created.v1.json"}


def test_the_directory_loads_with_every_struct_at_its_latest_version() -> None:
    registry = ContractRegistry.load(SAMPLE_CONTRACTS)
    assert {t: registry.latest(t) for t in registry.types} == {c.type: c.version for c in CONTRACTS}


def test_the_directory_upcasts_customer_v1_with_the_named_upcaster() -> None:
    old = {"customer_id": "c", "full_name": "Ann", "email": "a@b.c"}
    registry = ContractRegistry.load(SAMPLE_CONTRACTS)
    assert registry.upcast("integration.customer.created", 1, old) == {
        "customer_id": "c",
        "name": "Ann",
        "email": "a@b.c",
    }


# -- amounts ------------------------------------------------------------------------------------
@given(
    st.decimals(allow_nan=False, allow_infinity=False)
    | st.decimals(allow_nan=False, allow_infinity=False, places=2)
    | st.integers(-(10**12), 10**12)
)
def test_money_str_is_the_quantized_amount(value: Decimal | int) -> None:
    try:
        expected = str(money(value))
    except InvalidOperation:  # beyond the context's precision
        with pytest.raises(InvalidOperation):
            money_str(value)
        return
    assert money_str(value) == expected
