"""The downstream services over Flask's test client, on SQLite."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from legacy_app.models import (
    InventoryStock,
    NotificationRecord,
    PaymentRecord,
    Reservation,
    ShipmentRecord,
)
from legacy_app.services import email, inventory, payment, shipping


def client_of(module: Any, db_url: str, **kw: Any) -> FlaskClient:
    return module.create_app({"DATABASE_URL": db_url}, environ={}, **kw).test_client()


def post(c: FlaskClient, path: str, body: dict[str, Any], key: str = "k1"):
    return c.post(path, json=body, headers={"Idempotency-Key": key, "X-Correlation-ID": "corr-9"})


def stock(engine: Engine, sku: str) -> int:
    with Session(engine) as s:
        return s.get_one(InventoryStock, sku).on_hand


def rows(engine: Engine, model: type) -> list[Any]:
    with Session(engine) as s:
        return list(s.scalars(select(model)))


def test_reserve_takes_stock_once_per_key(db_url: str, engine: Engine) -> None:
    c = client_of(inventory, db_url)
    body = {
        "order_id": "o1",
        "lines": [{"sku": "SKU-0002", "qty": 4}, {"sku": "SKU-0001", "qty": 1}],
    }
    first = post(c, "/reserve", body)
    again = post(c, "/reserve", body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.get_json()["lines"] == [
        {"sku": "SKU-0001", "qty": 1},
        {"sku": "SKU-0002", "qty": 4},
    ]
    assert again.get_json()["reservation_id"] == first.get_json()["reservation_id"]
    assert stock(engine, "SKU-0002") == 1_000_000 - 4
    assert rows(engine, Reservation)[0].correlation_id == "corr-9"


def test_reserve_short_of_stock_takes_nothing(db_url: str, engine: Engine) -> None:
    c = client_of(inventory, db_url)
    body = {
        "order_id": "o1",
        "lines": [{"sku": "SKU-0001", "qty": 1}, {"sku": "SKU-OOS-2", "qty": 1}],
    }
    resp = post(c, "/reserve", body)
    assert resp.get_json()["status"] == "rejected"
    assert resp.get_json()["reason"] == "out_of_stock:SKU-OOS-2"
    assert stock(engine, "SKU-0001") == 1_000_000
    assert [r.status for r in rows(engine, Reservation)] == ["rejected"]


def test_release_gives_stock_back_once(db_url: str, engine: Engine) -> None:
    c = client_of(inventory, db_url)
    body = {"order_id": "o1", "lines": [{"sku": "SKU-0003", "qty": 2}]}
    post(c, "/reserve", body)
    assert post(c, "/release", body, "k2").get_json()["status"] == "released"
    assert post(c, "/release", body, "k2").get_json()["status"] == "none"
    assert stock(engine, "SKU-0003") == 1_000_000


def test_reserve_verify_answers_without_committing(db_url: str, engine: Engine) -> None:
    c = client_of(inventory, db_url)
    ok = post(c, "/reserve/verify", {"order_id": "o1", "lines": [{"sku": "SKU-0003", "qty": 2}]})
    short = post(
        c, "/reserve/verify", {"order_id": "o2", "lines": [{"sku": "SKU-OOS-1", "qty": 1}]}, "k2"
    )
    assert ok.get_json()["status"] == "reserved" and short.get_json()["status"] == "rejected"
    assert stock(engine, "SKU-0003") == 1_000_000 and rows(engine, Reservation) == []


def test_charge_is_applied_once_per_key_and_counts_requests(db_url: str, engine: Engine) -> None:
    c = client_of(payment, db_url)
    body = {"order_id": "o1", "amount": "12.50", "currency": "EUR", "payment_method": "card"}
    assert post(c, "/charge", body).status_code == 201
    assert post(c, "/charge", body).get_json()["status"] == "captured"
    [p] = rows(engine, PaymentRecord)
    assert (p.status, str(p.amount), p.requests) == ("captured", "12.50", 2)


def test_card_declined_is_declined(db_url: str) -> None:
    c = client_of(payment, db_url)
    body = {
        "order_id": "o1",
        "amount": "9.99",
        "currency": "EUR",
        "payment_method": "card_declined",
    }
    assert post(c, "/charge", body).get_json()["status"] == "declined"
    assert post(c, "/refund", {"order_id": "o1"}, "k2").get_json()["status"] == "none"


def test_refund_after_capture(db_url: str, engine: Engine) -> None:
    c = client_of(payment, db_url)
    post(c, "/charge", {"order_id": "o1", "amount": "20.00", "payment_method": "card"})
    assert post(c, "/refund", {"order_id": "o1"}, "k2").get_json() == {
        "status": "refunded",
        "amount": "20.00",
    }
    assert rows(engine, PaymentRecord)[0].status == "refunded"


def test_charge_verify_writes_nothing(db_url: str, engine: Engine) -> None:
    c = client_of(payment, db_url)
    resp = post(
        c, "/charge/verify", {"order_id": "o1", "amount": "5.00", "payment_method": "card_declined"}
    )
    assert resp.get_json() == {"status": "declined", "amount": "5.00"}
    assert rows(engine, PaymentRecord) == []


@pytest.mark.parametrize(("total", "carrier"), [("99.99", "standard"), ("100.00", "express")])
def test_carrier_by_total(db_url: str, engine: Engine, total: str, carrier: str) -> None:
    c = client_of(shipping, db_url)
    assert (
        post(c, "/shipments", {"order_id": "o1", "total": total}).get_json()["carrier"] == carrier
    )
    assert [s.carrier for s in rows(engine, ShipmentRecord)] == [carrier]


def test_notification_recorded_once_per_key(db_url: str, engine: Engine) -> None:
    c = client_of(email, db_url)
    body = {"order_id": "o1", "template": "order_confirmation", "recipient": "a@b.co"}
    post(c, "/notifications", body)
    post(c, "/notifications", body)
    assert post(c, "/notifications/verify", body, "k9").get_json()["status"] == "would_record"
    assert len(rows(engine, NotificationRecord)) == 1


def test_missing_idempotency_key_is_400(db_url: str) -> None:
    c = client_of(payment, db_url)
    resp = c.post("/charge", json={"order_id": "o1", "amount": "1.00", "payment_method": "card"})
    assert resp.status_code == 400 and "Idempotency-Key" in str(resp.get_json())


def test_malformed_body_is_422(db_url: str) -> None:
    c = client_of(payment, db_url)
    resp = post(c, "/charge", {"order_id": "o1", "amount": "lots", "payment_method": "card"})
    assert resp.status_code == 422 and resp.get_json()["details"][0]["loc"] == ["amount"]


def test_error_fault_answers_500_before_doing_anything(db_url: str, engine: Engine) -> None:
    c = payment.create_app(
        {"DATABASE_URL": db_url, "FAULT_PAYMENT_ERROR_RATE": "1"}, environ={}, rng=lambda: 0.0
    ).test_client()
    resp = post(c, "/charge", {"order_id": "o1", "amount": "1.00", "payment_method": "card"})
    assert resp.status_code == 500 and rows(engine, PaymentRecord) == []
    assert c.get("/health").status_code == 200


def test_delay_fault_sleeps_before_or_after_the_work(db_url: str, engine: Engine) -> None:
    slept: list[float] = []
    env = {"CUTOVER_FAULT_SHIPPING_DELAY_RATE": "0.5", "CUTOVER_FAULT_SHIPPING_DELAY_SECONDS": "3"}
    c = shipping.create_app(
        {"DATABASE_URL": db_url}, environ=env, rng=lambda: 0.1, sleep=slept.append
    )
    assert (
        post(c.test_client(), "/shipments", {"order_id": "o1", "total": "1.00"}).status_code == 201
    )
    assert slept == [3.0]
    env["CUTOVER_FAULT_SHIPPING_DELAY_PHASE"] = "after"
    c = shipping.create_app(
        {"DATABASE_URL": db_url}, environ=env, rng=lambda: 0.1, sleep=slept.append
    )
    post(c.test_client(), "/shipments", {"order_id": "o2", "total": "1.00"}, "k2")
    assert slept == [3.0, 3.0] and len(rows(engine, ShipmentRecord)) == 2
