"""Outcome records built from the legacy tables, with every service running in-process on SQLite.

The HTTP adapters are wired to the services' Flask test clients, so the whole
sync path (order service → real service code → tables) runs without sockets.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine

from cutover_common.modes import Mode
from legacy_app.app import create_app
from legacy_app.modes import StaticModes
from legacy_app.outbox import MemoryPublisher
from legacy_app.outcome import (
    Notification,
    Outcome,
    Payment,
    Reservation,
    ReservationLine,
    Shipment,
)
from legacy_app.outcomes import inconclusive_verify_ids, iter_sync_outcomes, iter_verify_outcomes
from tests.unit.legacy_app.inprocess import config_for, inprocess_downstreams


@pytest.fixture
def stack(db_url: str):
    return make_stack(db_url)


def make_stack(db_url: str, service_config: dict[str, str] | None = None):
    modes = StaticModes()
    config = config_for(db_url)
    ports = inprocess_downstreams(db_url, service_config)
    app = create_app(
        config, environ={}, downstreams=ports, modes=modes, publisher=MemoryPublisher()
    )
    client = app.test_client()
    cust = client.post("/customers", json={"name": "Bo", "email": "bo@example.com"}).get_json()

    def order(items: list[tuple[str, int]], method: str = "card") -> dict[str, Any]:
        body = {
            "customer_id": cust["id"],
            "items": [{"sku": s, "qty": q} for s, q in items],
            "payment_method": method,
        }
        return client.post(
            "/orders", json=body, headers={"X-Correlation-ID": f"corr-{len(items)}-{method}"}
        ).get_json()

    return order, modes


def by_id(outcomes: list[Outcome]) -> dict[str, Outcome]:
    return {o.order_id: o for o in outcomes}


def test_sync_outcomes_of_completed_declined_and_out_of_stock_orders(stack, engine: Engine) -> None:
    order, _ = stack
    done = order([("SKU-0010", 2), ("SKU-0001", 1)])
    declined = order([("SKU-0002", 1)], "card_declined")
    oos = order([("SKU-0003", 1), ("SKU-OOS-3", 1)])
    outcomes = by_id(list(iter_sync_outcomes(engine, batch_size=2)))
    assert set(outcomes) == {done["id"], declined["id"], oos["id"]}

    ok = outcomes[done["id"]]
    assert ok.status == "completed" and ok.source == "sync"
    assert ok.total == Decimal("41.25") and ok.correlation_id == "corr-2-card"
    assert ok.reservation == Reservation(
        (ReservationLine("SKU-0001", 1), ReservationLine("SKU-0010", 2)), False
    )
    assert ok.payment == Payment(Decimal("41.25"), "captured", 1)
    assert ok.shipment == Shipment("standard", "created")
    assert ok.notifications == (Notification("order_confirmation", "bo@example.com"),)
    assert ok.produced_at.tzinfo is not None

    no = outcomes[declined["id"]]
    assert (no.status, no.payment, no.shipment) == (
        "failed",
        Payment(Decimal("7.50"), "declined", 1),
        None,
    )
    assert no.reservation == Reservation((ReservationLine("SKU-0002", 1),), True)
    assert no.notifications == (Notification("payment_declined", "bo@example.com"),)

    short = outcomes[oos["id"]]
    assert (short.status, short.reservation, short.payment) == ("failed", None, None)
    assert short.notifications == (Notification("order_failed", "bo@example.com"),)


def test_orders_still_in_flight_have_no_outcome(stack, engine: Engine) -> None:
    order, modes = stack
    modes.set("order", Mode.ASYNC)
    order([("SKU-0004", 1)])
    assert list(iter_sync_outcomes(engine)) == []


def test_verify_outcomes_match_what_the_sync_path_would_have_done(stack, engine: Engine) -> None:
    order, modes = stack
    sync_done = order([("SKU-0050", 2)])
    sync_declined = order([("SKU-0005", 1)], "card_declined")
    modes.set_all(Mode.ASYNC)
    async_done = order([("SKU-0050", 2)])
    async_declined = order([("SKU-0005", 1)], "card_declined")
    sync = by_id(list(iter_sync_outcomes(engine)))
    verify = by_id(list(iter_verify_outcomes(engine)))
    assert set(verify) == {async_done["id"], async_declined["id"]}
    for s_id, v_id in (
        (sync_done["id"], async_done["id"]),
        (sync_declined["id"], async_declined["id"]),
    ):
        s, v = sync[s_id].to_dict(), verify[v_id].to_dict()
        for d in (s, v):
            for key in ("order_id", "produced_at", "source"):
                d.pop(key)
        assert s == v
    assert verify[async_done["id"]].shipment == Shipment("express", "created")
    assert verify[async_done["id"]].source == "verify"


def test_a_verify_run_without_an_answer_is_inconclusive_and_left_out(
    db_url: str, engine: Engine
) -> None:
    order, modes = make_stack(db_url, {"FAULT_PAYMENT_ERROR_RATE": "1"})
    modes.set_all(Mode.ASYNC)
    blind = order([("SKU-0050", 2)])
    no_payment = order([("SKU-0006", 1), ("SKU-OOS-3", 1)])  # fails at inventory, before payment
    assert [o.order_id for o in iter_verify_outcomes(engine)] == [no_payment["id"]]
    assert inconclusive_verify_ids(engine) == [blind["id"]]


def test_with_include_inconclusive_a_verify_run_without_an_answer_is_flagged(
    db_url: str, engine: Engine
) -> None:
    order, modes = make_stack(db_url, {"FAULT_PAYMENT_ERROR_RATE": "1"})
    modes.set_all(Mode.ASYNC)
    blind = order([("SKU-0050", 2)])
    no_payment = order([("SKU-0006", 1), ("SKU-OOS-3", 1)])
    verify = by_id(list(iter_verify_outcomes(engine, include_inconclusive=True)))
    assert sorted(verify) == sorted([blind["id"], no_payment["id"]])
    assert verify[blind["id"]].extra == {"inconclusive": True}
    assert verify[blind["id"]].payment is None
    assert verify[no_payment["id"]].extra == {}
