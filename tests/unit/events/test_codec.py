from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from events.codec import decode, decode_json, decode_outbox_message, decode_outbox_row, encode
from events.commands import CommandResult
from events.envelope import Envelope
from events.errors import SchemaValidationError, UnknownEventTypeError, UpcastError
from events.registry import ContractRegistry
from events.upcasting import UpcasterRegistry
from legacy_app.contracts import CONTRACTS
from legacy_app.contracts.domain import OrderCreated
from legacy_app.contracts.integration import CustomerCreated
from tests.unit.events.conftest import SAMPLE_CONTRACTS, SAMPLES

V1_CUSTOMER = {"customer_id": "c-1", "full_name": "Ann", "email": "ann@example.com"}


@pytest.mark.parametrize("payload", SAMPLES, ids=lambda p: p.type)
def test_encode_then_decode_gives_the_payload_back(
    payload: Any, contracts: ContractRegistry
) -> None:
    decoded = decode_json(
        encode(payload, contracts, correlation_id="c").to_json(), contracts, CONTRACTS
    )
    assert decoded.payload == payload
    assert not decoded.was_upcast


def test_decode_without_structs_gives_the_data(
    order_created: OrderCreated, contracts: ContractRegistry
) -> None:
    decoded = decode(Envelope.of(order_created), contracts)
    assert decoded.payload == order_created.to_dict()


def test_encode_rejects_invalid_payload(contracts: ContractRegistry) -> None:
    bad = OrderCreated("o", "c", "not-an-email", (), Decimal(1))
    with pytest.raises(SchemaValidationError) as info:
        encode(bad, contracts)
    assert info.value.event_type == "order.created"
    assert info.value.errors[0].startswith("/customer_email: ")


def test_decode_upcasts_old_version_to_current(contracts: ContractRegistry) -> None:
    env = Envelope.new("integration.customer.created", V1_CUSTOMER, version=1, id="e-1")
    decoded = decode(env, contracts, CONTRACTS)
    assert decoded.payload == CustomerCreated("c-1", "Ann", "ann@example.com")
    assert decoded.upcast_from == 1
    assert decoded.envelope.version == 2
    assert decoded.envelope.dataschema == "urn:cutover:schema:integration.customer.created:2"
    assert decoded.envelope.id == "e-1"


def test_unversioned_envelope_is_taken_as_current(contracts: ContractRegistry) -> None:
    env = Envelope.new(
        "order.completed", {"order_id": "o", "total": "1.00", "currency": "EUR"}, version=None
    )
    decoded = decode(env, contracts)
    assert decoded.envelope.version == 1
    assert not decoded.was_upcast


def test_old_data_invalid_for_its_own_version_is_rejected_with_raw_data(
    contracts: ContractRegistry,
) -> None:
    data = {"customer_id": "c-1", "email": "ann@example.com"}
    env = Envelope.new("integration.customer.created", data, version=1)
    with pytest.raises(SchemaValidationError) as info:
        decode(env, contracts)
    assert (info.value.version, info.value.raw) == (1, data)


def test_unknown_version_is_rejected(contracts: ContractRegistry) -> None:
    env = Envelope.new("order.created", {}, version=7)
    with pytest.raises(UnknownEventTypeError) as info:
        decode(env, contracts)
    assert (info.value.event_type, info.value.version) == ("order.created", 7)


def test_unknown_type_is_rejected(contracts: ContractRegistry) -> None:
    with pytest.raises(UnknownEventTypeError) as info:
        decode(Envelope.new("order.teleported", {}), contracts)
    assert info.value.event_type == "order.teleported"


def test_failing_upcaster_is_wrapped() -> None:
    registry = UpcasterRegistry()

    @registry.upcaster("integration.customer.created", 1)
    def broken(data: dict[str, Any]) -> dict[str, Any]:
        return {"name": data["missing"]}

    files = {p.name: p.read_text() for p in SAMPLE_CONTRACTS.glob("*.json")}
    contracts = ContractRegistry.from_sources(files, upcasters=registry)
    env = Envelope.new("integration.customer.created", V1_CUSTOMER, version=1)
    with pytest.raises(UpcastError, match="upcaster failed"):
        decode(env, contracts)


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


def test_decode_outbox_message_end_to_end(
    order_created: OrderCreated, contracts: ContractRegistry
) -> None:
    key, value, headers = Envelope.of(order_created, correlation_id="corr").to_kafka_message()
    decoded = decode_outbox_message(key, value, headers, contracts, CONTRACTS)
    assert decoded.payload == order_created
    assert decoded.envelope.correlation_id == "corr"


def test_decode_outbox_row_of_old_version_is_current(contracts: ContractRegistry) -> None:
    row = {
        "id": "7d6f1b5e-0000-4000-8000-000000000001",
        "aggregatetype": "customer",
        "aggregateid": "c-1",
        "type": "integration.customer.created",
        "payload": {"customer_id": "c-1", "name": "Ann", "email": "ann@example.com"},
    }
    decoded = decode_outbox_row(row, contracts, CONTRACTS)
    assert decoded.payload == CustomerCreated("c-1", "Ann", "ann@example.com")


def test_command_result_accept_and_reject() -> None:
    env = Envelope.new("order.created", {})
    assert CommandResult.accept("cmd-1", env) == CommandResult("cmd-1", True, None, (env,))
    rejected = CommandResult.reject("cmd-2", "out_of_stock")
    assert (rejected.accepted, rejected.reason, rejected.events) == (False, "out_of_stock", ())
