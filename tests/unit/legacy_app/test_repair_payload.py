"""The sample's repair payload (``cutover repair --payload legacy_app.repair:order_payload``)."""

from __future__ import annotations

from legacy_app.repair import order_payload
from tests.unit.comparators.factories import record


def test_an_order_created_repair_rebuilds_the_contracts_fields_from_the_outcome() -> None:
    payload = order_payload("order.created", record(2))
    assert payload["order_id"] == "ord-000002" and payload["repair"] is True
    assert payload["items"] == [{"sku": "SKU-0001", "qty": 2}, {"sku": "SKU-0003", "qty": 1}]
    assert payload["total"] == "23.75" and payload["currency"] == "EUR"


def test_another_event_type_carries_the_outcome() -> None:
    payload = order_payload("payment.requested", record(5))
    assert payload["order_id"] == "ord-000005" and payload["outcome"]["total"] == "23.75"
