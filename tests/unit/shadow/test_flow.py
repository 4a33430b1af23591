from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from legacy_app.orderflow.catalogue import initial_stock
from legacy_app.orderflow.changes import Changes, ProcessedRow
from legacy_app.orderflow.domain import parse_order
from legacy_app.orderflow.effects import RecordingEffects
from legacy_app.orderflow.flow import NAMESPACE, derived_id
from legacy_app.orderflow.processors import (
    AnalyticsProcessor,
    Coordination,
    FlowProcessor,
    FlowScope,
)
from legacy_app.orderflow.samples import order_payload
from legacy_app.orderflow.store_memory import InMemoryStore
from legacy_app.outcome import (
    Notification,
    Outcome,
    Payment,
    Reservation,
    ReservationLine,
    Shipment,
)
from shadow.errors import ShadowConfigError
from shadow.messages import InboundEvent

NOW = datetime(2026, 11, 26, 12, 0, 30, tzinfo=UTC)


def run(
    payload: dict, coordination: Coordination, *, event_id: str = "e-1"
) -> tuple[Outcome, Changes]:
    store = InMemoryStore()
    store.ensure_schema(initial_stock())
    event = InboundEvent(
        event_id,
        "order.created",
        payload["order_id"],
        payload,
        "corr-1",
        timestamp_ms=int(NOW.timestamp() * 1000),
        context="order",
    )
    processor = FlowProcessor(RecordingEffects(), coordination=coordination)
    changes = Changes()
    with store.transaction() as tx:
        stock = tx.lock_stock({"SKU-0001", "SKU-0050", "SKU-OOS-1"})
        processor.apply(event, parse_order(payload), changes, Changes(), FlowScope(stock, NOW))
        changes.processed.append(ProcessedRow("shadow.flow", event_id, NOW))
        tx.apply(changes)
    [outcome] = store.outcomes()
    return outcome, changes


BOTH = [Coordination.CHOREOGRAPHY, Coordination.SAGA]


@pytest.mark.parametrize("style", BOTH)
def test_happy_order_completes_with_shipment_and_confirmation(style: Coordination) -> None:
    outcome, _ = run(order_payload("o-1", [("SKU-0050", 2)]), style)
    assert outcome.status == "completed"
    assert outcome.total == Decimal("135.00")
    assert outcome.reservation == Reservation((ReservationLine("SKU-0050", 2),), released=False)
    assert outcome.payment == Payment(Decimal("135.00"), "captured", 1)
    assert outcome.shipment == Shipment("express", "created")
    assert outcome.notifications == (Notification("order_confirmation", "buyer@example.com"),)
    assert outcome.correlation_id == "corr-1"
    assert outcome.source == "event"


@pytest.mark.parametrize("style", BOTH)
def test_out_of_stock_reserves_nothing_and_notifies_failure(style: Coordination) -> None:
    outcome, _ = run(order_payload("o-2", [("SKU-0001", 1), ("SKU-OOS-1", 1)]), style)
    assert (outcome.status, outcome.reservation, outcome.payment, outcome.shipment) == (
        "failed",
        None,
        None,
        None,
    )
    assert outcome.notifications == (Notification("order_failed", "buyer@example.com"),)


@pytest.mark.parametrize("style", BOTH)
def test_declined_payment_releases_the_reservation(style: Coordination) -> None:
    outcome, changes = run(
        order_payload("o-3", [("SKU-0001", 3)], payment_method="card_declined"), style
    )
    assert outcome.status == "failed"
    assert outcome.reservation == Reservation((ReservationLine("SKU-0001", 3),), released=True)
    assert outcome.payment == Payment(Decimal("18.75"), "declined", 1)
    assert outcome.shipment is None
    assert outcome.notifications == (Notification("payment_declined", "buyer@example.com"),)
    assert changes.stock_delta == {"SKU-0001": 0}, "released stock is given back"


@pytest.mark.parametrize(
    "payload",
    [
        order_payload("o-4", [("SKU-0001", 1)]),
        order_payload("o-5", [("SKU-OOS-1", 1)]),
        order_payload("o-6", [("SKU-0050", 1)], payment_method="card_declined"),
    ],
)
def test_choreography_and_saga_agree_on_outcome_and_emitted_events(payload: dict) -> None:
    chor, chor_changes = run(payload, Coordination.CHOREOGRAPHY)
    saga, saga_changes = run(payload, Coordination.SAGA)
    assert chor == saga
    assert sorted(r.type for r in chor_changes.outbox) == sorted(
        r.type for r in saga_changes.outbox
    )


def test_saga_state_is_persisted_with_its_path() -> None:
    _, changes = run(
        order_payload("o-7", [("SKU-0001", 1)], payment_method="card_declined"), Coordination.SAGA
    )
    saga = changes.sagas["o-7"]
    assert saga.state == "failed"
    assert saga.steps[:4] == ("start", "reserve:ok", "charge:declined", "release:ok")


def test_follow_up_events_have_deterministic_ids_and_causality() -> None:
    _, first = run(order_payload("o-8"), Coordination.CHOREOGRAPHY)
    _, again = run(order_payload("o-8"), Coordination.CHOREOGRAPHY)
    assert [r.id for r in first.outbox] == [r.id for r in again.outbox]
    types = [r.type for r in first.outbox]
    assert types == [
        "inventory.reserved",
        "payment.completed",
        "shipment.created",
        "notification.sent",
        "order.completed",
    ]
    assert first.outbox[0].causation_id == "e-1"
    assert first.outbox[1].causation_id == first.outbox[0].id
    assert {r.correlation_id for r in first.outbox} == {"corr-1"}
    _, other = run(order_payload("o-8"), Coordination.CHOREOGRAPHY, event_id="e-2")
    ids = [r.id for r in first.outbox + other.outbox]
    assert len(set(ids)) == len(ids), "unique across roots"
    assert all(str(uuid.UUID(i)) == i for i in ids), "valid UUID text (the outbox id column)"


def test_only_selected_contexts_react() -> None:
    processor = FlowProcessor(RecordingEffects(), contexts={"order"})
    payload = order_payload("o-9")
    changes = Changes()
    event = InboundEvent("e-9", "order.created", "o-9", payload, "c")
    processor.apply(event, parse_order(payload), changes, Changes(), FlowScope({}, NOW))
    assert list(changes.orders) == ["o-9"] and changes.orders["o-9"].status == "pending"
    assert not changes.payments and not changes.outbox


def test_saga_needs_every_flow_context() -> None:
    with pytest.raises(ShadowConfigError):
        FlowProcessor(
            RecordingEffects(), contexts={"order", "payment"}, coordination=Coordination.SAGA
        )


def test_analytics_counts_orders_quantity_and_revenue_per_product_minute() -> None:
    payload = order_payload("o-10", [("SKU-0001", 2), ("SKU-0002", 1), ("SKU-0001", 1)])
    event = InboundEvent(
        "e-10", "order.created", "o-10", payload, "c", timestamp_ms=int(NOW.timestamp() * 1000)
    )
    changes = Changes()
    AnalyticsProcessor().apply(event, parse_order(payload), changes, Changes(), FlowScope({}, NOW))
    minute = NOW.replace(second=0)
    row = changes.analytics[(minute, "SKU-0001")]
    assert (row.orders, row.quantity, row.revenue) == (1, 3, Decimal("18.75"))
    assert changes.analytics[(minute, "SKU-0002")].revenue == Decimal("7.50")


@given(st.text())
def test_derived_id_is_uuid5_of_the_name(name: str) -> None:
    """Follow-up ids stay what they were when built through ``uuid.uuid5`` (a replay or an
    older store sees the same ids)."""
    assert derived_id(name) == str(uuid.uuid5(NAMESPACE, name))
