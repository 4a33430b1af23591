"""POST /orders with an Idempotency-Key, on SQLite with fake downstreams (the real Postgres
and 200 concurrent requests: tests/integration/legacy_app/test_idempotent_orders.py)."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from legacy_app.models import Order


def orders(engine: Engine) -> int:
    with Session(engine) as s:
        return int(s.scalar(select(func.count()).select_from(Order)) or 0)


def post(client: FlaskClient, body: dict[str, Any], key: str = "k-1") -> Any:
    return client.post("/orders", json=body, headers={"Idempotency-Key": key})


def test_a_repeated_order_is_answered_from_the_first_and_placed_once(
    client: FlaskClient, customer: dict[str, str], engine: Engine
) -> None:
    body = {"customer_id": customer["id"], "items": [{"sku": "SKU-0001", "qty": 2}]}
    first, again = post(client, body), post(client, body)
    other = post(client, {**body, "payment_method": "card_declined"})
    assert (first.status_code, again.status_code, other.status_code) == (201, 201, 422)
    assert again.get_data() == first.get_data()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert orders(engine) == 1


def test_an_unknown_sku_is_answered_alike_and_places_nothing(
    client: FlaskClient, customer: dict[str, str], engine: Engine
) -> None:
    body = {"customer_id": customer["id"], "items": [{"sku": "NOPE", "qty": 1}]}
    answers = [post(client, body, "k-2") for _ in range(2)]
    assert [a.status_code for a in answers] == [422, 422]
    assert answers[0].get_json() == answers[1].get_json()
    assert orders(engine) == 0


def test_a_body_nested_1000_deep_is_a_400(client: FlaskClient) -> None:
    resp = client.post(
        "/orders", data="[" * 1000 + "]" * 1000, headers={"Content-Type": "application/json"}
    )
    assert (resp.status_code, resp.get_json()) == (
        400,
        {"error": "JSON body nested deeper than 32 levels"},
    )
