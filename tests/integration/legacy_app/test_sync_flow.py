"""The synchronous flow with every service as a gunicorn process on the real Postgres."""

from __future__ import annotations

from decimal import Decimal

import requests
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from legacy_app.models import InventoryStock, Order, OutboxEvent, PaymentRecord, ShipmentRecord
from legacy_app.outcome import (
    Notification,
    Outcome,
    Payment,
    Reservation,
    ReservationLine,
    Shipment,
)
from legacy_app.outcomes import SYNC_OUTCOME_JSON_SQL, iter_sync_outcomes

IN_STOCK = 1_000_000


def stock(engine, sku: str) -> int:
    with Session(engine) as s:
        return s.get_one(InventoryStock, sku).on_hand


def test_completed_declined_and_out_of_stock_orders_end_in_the_tables(start_app) -> None:
    app = start_app()
    cid = app.customer()
    done = app.order(cid, [("SKU-0040", 2)], headers={"X-Correlation-ID": "it-corr-1"})
    declined = app.order(cid, [("SKU-0002", 3)], "card_declined")
    oos = app.order(cid, [("SKU-0001", 1), ("SKU-OOS-1", 1)])
    assert [r.status_code for r in (done, declined, oos)] == [201, 201, 201]
    assert done.json()["status"] == "completed" and done.headers["X-Correlation-ID"] == "it-corr-1"
    assert (declined.json()["status"], declined.json()["failure_reason"]) == (
        "failed",
        "payment_declined",
    )
    assert oos.json()["failure_reason"] == "out_of_stock"

    assert stock(app.engine, "SKU-0040") == IN_STOCK - 2
    assert stock(app.engine, "SKU-0002") == IN_STOCK  # released after the decline
    assert stock(app.engine, "SKU-0001") == IN_STOCK  # nothing reserved when one line is short

    outcomes = {o.order_id: o for o in iter_sync_outcomes(app.engine)}
    ok = outcomes[done.json()["id"]]
    assert ok.correlation_id == "it-corr-1"
    assert ok.total == Decimal("110.00")
    assert ok.reservation == Reservation((ReservationLine("SKU-0040", 2),), False)
    assert ok.payment == Payment(Decimal("110.00"), "captured", 1)
    assert ok.shipment == Shipment("express", "created")
    assert ok.notifications == (Notification("order_confirmation", "ada@example.com"),)
    no = outcomes[declined.json()["id"]]
    assert (no.status, no.payment.status, no.reservation.released, no.shipment) == (
        "failed", "declined", True, None,
    )  # fmt: skip
    assert outcomes[oos.json()["id"]].reservation is None

    with app.engine.connect() as conn:  # the one-JSON-row-per-order SQL gives the same records
        via_json = {
            o.order_id: o
            for o in (
                Outcome.from_dict(row[0]) for row in conn.execute(text(SYNC_OUTCOME_JSON_SQL))
            )
        }
    assert via_json == outcomes

    with app.engine.connect() as conn:  # the correlation id reached every downstream table
        corr = conn.execute(
            text("SELECT correlation_id FROM payments WHERE order_id = :o"),
            {"o": done.json()["id"]},
        ).scalar_one()
    assert corr == "it-corr-1"


def test_shipping_timeout_fails_the_order_and_compensates(start_app) -> None:
    app = start_app(
        CUTOVER_FAULT_SHIPPING_DELAY_RATE="1",
        CUTOVER_FAULT_SHIPPING_DELAY_SECONDS="2",
        CUTOVER_HTTP_READ_TIMEOUT="0.4",
        CUTOVER_HTTP_RETRIES="1",
    )
    cid = app.customer()
    resp = app.order(cid, [("SKU-0005", 4)])
    assert resp.status_code == 201
    assert (resp.json()["status"], resp.json()["failure_reason"]) == (
        "failed",
        "shipping_unavailable",
    )
    assert stock(app.engine, "SKU-0005") == IN_STOCK
    [outcome] = list(iter_sync_outcomes(app.engine))
    assert outcome.payment == Payment(Decimal("45.00"), "refunded", 1)
    assert outcome.reservation is not None and outcome.reservation.released
    assert outcome.shipment is None
    assert outcome.notifications == (Notification("order_failed", "ada@example.com"),)


def test_a_retried_charge_is_applied_once(start_app) -> None:
    app = start_app(  # the charge commits, then its answer is lost: every attempt times out
        CUTOVER_FAULT_PAYMENT_DELAY_RATE="1",
        CUTOVER_FAULT_PAYMENT_DELAY_SECONDS="1",
        CUTOVER_FAULT_PAYMENT_DELAY_PHASE="after",
        CUTOVER_HTTP_READ_TIMEOUT="0.3",
        CUTOVER_HTTP_RETRIES="2",
    )
    cid = app.customer()
    resp = app.order(cid, [("SKU-0006", 1)])
    assert resp.json()["failure_reason"] == "payment_unavailable"
    with Session(app.engine) as s:
        [payment] = s.scalars(select(PaymentRecord)).all()
    assert payment.requests == 3  # asked three times ...
    assert payment.status == "refunded"  # ... applied once, and compensated
    assert stock(app.engine, "SKU-0006") == IN_STOCK


def test_a_dead_service_trips_the_breaker_and_fails_fast(start_app) -> None:
    app = start_app(
        CUTOVER_FAULT_SHIPPING_ERROR_RATE="1",
        CUTOVER_HTTP_RETRIES="1",
        CUTOVER_BREAKER_FAILURES="2",
        CUTOVER_BREAKER_RESET_SECONDS="60",
    )
    cid = app.customer()
    first = app.order(cid, [("SKU-0007", 1)])
    assert first.json()["failure_reason"] == "shipping_unavailable"
    second = app.order(cid, [("SKU-0007", 1)])
    assert second.json()["failure_reason"] == "shipping_unavailable"
    log = (app.spec.run_dir / "shipping.log").read_text()
    assert log.count("POST /shipments") == 2  # the second order never reached the service
    with Session(app.engine) as s:
        assert s.scalar(select(func.count()).select_from(ShipmentRecord)) == 0


def test_malformed_requests_get_4xx_and_write_nothing(start_app) -> None:
    app = start_app(CUTOVER_MAX_BODY_BYTES="2048")
    cid = app.customer()
    url = f"{app.order_url}/orders"
    cases = [
        requests.post(
            url, data=b'{"customer_id": ', headers={"Content-Type": "application/json"}, timeout=5
        ),
        requests.post(
            url, data=b"customer_id=1", headers={"Content-Type": "text/plain"}, timeout=5
        ),
        requests.post(
            url,
            data=b'{"x": "' + b"y" * 4096 + b'"}',
            headers={"Content-Type": "application/json"},
            timeout=5,
        ),
        app.order(cid, [("SKU-0001", -1)]),
        app.order(cid, [("SKU-0001", 0)]),
        app.order(cid, [("NO-SUCH-SKU", 1)]),
        app.order("nobody", [("SKU-0001", 1)]),
        requests.post(
            url, json={"customer_id": cid, "items": [{"sku": "SKU-0001", "qty": "1"}]}, timeout=5
        ),
        requests.post(url, json={"customer_id": cid}, timeout=5),
    ]
    assert [r.status_code for r in cases] == [400, 415, 413, 422, 422, 422, 422, 422, 422]
    assert all(r.json()["error"] and r.json()["details"] for r in cases)
    with Session(app.engine) as s:
        assert s.scalar(select(func.count()).select_from(Order)) == 0
        assert s.scalar(select(func.count()).select_from(OutboxEvent)) == 0
