from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from events.codec import decode, decode_json, decode_outbox_message, decode_outbox_row, encode
from events.domain import OrderCreated
from events.envelope import Envelope
from events.errors import SchemaValidationError, UnknownEventTypeError, UpcastError
from events.integration import CustomerCreated
from events.upcasting import UpcasterRegistry, default_registry
from tests.unit.events.conftest import SAMPLES

V1_CUSTOMER = {"customer_id": "c-1", "full_name": "Ann", "email": "ann@example.com"}


@pytest.mark.parametrize("payload", SAMPLES, ids=lambda p: p.type)
def test_encode_then_decode_gives_the_payload_back(payload: Any) -> None:
    decoded = decode_json(encode(payload, correlation_id="c").to_json())
    assert decoded.payload == payload
    assert not decoded.was_upcast


def test_encode_rejects_invalid_payload() -> None:
    bad = OrderCreated("o", "c", "not-an-email", (), Decimal(1))
    with pytest.raises(SchemaValidationError) as info:
        encode(bad)
    assert info.value.event_type == "order.created"
    assert any(e.startswith("customer_email:") for e in info.value.errors)
    assert any(e.startswith("items:") for e in info.value.errors)


def test_decode_upcasts_old_version_to_current() -> None:
    env = Envelope.new("integration.customer.created", V1_CUSTOMER, version=1, id="e-1")
    decoded = decode(env)
    assert decoded.payload == CustomerCreated("c-1", "Ann", "ann@example.com")
    assert decoded.upcast_from == 1
    assert decoded.envelope.version == 2
    assert decoded.envelope.dataschema == "urn:cutover:schema:integration.customer.created:2"
    assert decoded.envelope.id == "e-1"


def test_unversioned_envelope_is_taken_as_current() -> None:
    env = Envelope.new(
        "order.completed", {"order_id": "o", "total": "1.00", "currency": "EUR"}, version=None
    )
    decoded = decode(env)
    assert decoded.envelope.version == 1
    assert not decoded.was_upcast


def test_old_data_invalid_for_its_own_version_is_rejected_with_raw_data() -> None:
    data = {"customer_id": "c-1", "email": "ann@example.com"}
    env = Envelope.new("integration.customer.created", data, version=1)
    with pytest.raises(SchemaValidationError) as info:
        decode(env)
    assert (info.value.version, info.value.raw) == (1, data)


def test_unknown_version_is_rejected() -> None:
    env = Envelope.new("order.created", {}, version=7)
    with pytest.raises(UnknownEventTypeError) as info:
        decode(env)
    assert (info.value.event_type, info.value.version) == ("order.created", 7)


def test_missing_upcaster_is_a_typed_error() -> None:
    env = Envelope.new("integration.customer.created", V1_CUSTOMER, version=1)
    with pytest.raises(UpcastError) as info:
        decode(env, upcasters=UpcasterRegistry())
    assert info.value.from_version == 1


def test_failing_upcaster_is_wrapped() -> None:
    registry = UpcasterRegistry()

    @registry.upcaster("integration.customer.created", 1)
    def broken(data: dict[str, Any]) -> dict[str, Any]:
        return {"name": data["missing"]}

    env = Envelope.new("integration.customer.created", V1_CUSTOMER, version=1)
    with pytest.raises(UpcastError, match="upcaster failed"):
        decode(env, upcasters=registry)


def test_registry_chains_steps_and_refuses_duplicates() -> None:
    registry = UpcasterRegistry()
    registry.register("t", 1, lambda d: {**d, "b": 1})
    registry.register("t", 2, lambda d: {**d, "c": d["b"] + 1})
    assert registry.upcast("t", 1, {"a": 0}, 3) == {"a": 0, "b": 1, "c": 2}
    assert registry.upcast("t", 3, {"a": 0}, 3) == {"a": 0}
    with pytest.raises(UpcastError):
        registry.register("t", 1, lambda d: d)
    with pytest.raises(UpcastError, match="newer"):
        registry.upcast("t", 4, {}, 3)


def test_default_registry_knows_customer_v1() -> None:
    assert default_registry().steps() == [("integration.customer.created", 1)]


def test_decode_outbox_message_end_to_end(order_created: OrderCreated) -> None:
    key, value, headers = Envelope.of(order_created, correlation_id="corr").to_kafka_message()
    decoded = decode_outbox_message(key, value, headers)
    assert decoded.payload == order_created
    assert decoded.envelope.correlation_id == "corr"


def test_decode_outbox_row_of_old_version_is_current() -> None:
    row = {
        "id": "7d6f1b5e-0000-4000-8000-000000000001",
        "aggregatetype": "customer",
        "aggregateid": "c-1",
        "type": "integration.customer.created",
        "payload": {"customer_id": "c-1", "name": "Ann", "email": "ann@example.com"},
    }
    assert decode_outbox_row(row).payload == CustomerCreated("c-1", "Ann", "ann@example.com")
