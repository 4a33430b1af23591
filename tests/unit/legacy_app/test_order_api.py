"""The order service over Flask's test client, on SQLite, with fake downstreams."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from cutover.state.models import VerifyResultRow as VerifyResult
from cutover.state.naming import bind
from cutover_common.modes import Mode
from legacy_app.fakes import FakeWorld
from legacy_app.models import Customer, Order, OrderItem, OutboxEvent
from legacy_app.modes import StaticModes
from legacy_app.outbox import MemoryPublisher
from tests.support.cutover_state import count_blocked_sync_calls


def post_order(client: FlaskClient, customer_id: str, **kw: Any):
    body = {"customer_id": customer_id, "items": [{"sku": "SKU-0001", "qty": 2}], **kw}
    return client.post("/orders", json=body, headers={"X-Correlation-ID": "corr-abc"})


def outbox(engine: Engine) -> list[OutboxEvent]:
    with Session(engine) as s:
        return list(s.scalars(select(OutboxEvent).order_by(OutboxEvent.created_at)))


def count(engine: Engine, model: type) -> int:
    with Session(engine) as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_sync_order_completes_with_201_and_no_event(client, customer, engine, world) -> None:
    resp = post_order(client, customer["id"])
    assert resp.status_code == 201
    body = resp.get_json()
    assert (body["status"], body["total"], body["mode"]) == ("completed", "12.50", "sync")
    assert resp.headers["X-Correlation-ID"] == "corr-abc"
    assert body["correlation_id"] == "corr-abc"
    assert outbox(engine) == []
    assert client.get(f"/orders/{body['id']}").get_json()["status"] == "completed"


def test_dual_writes_created_and_completed_to_the_outbox(client, customer, engine, modes) -> None:
    modes.set("order", Mode.DUAL)
    body = post_order(client, customer["id"]).get_json()
    rows = outbox(engine)
    assert [r.type for r in rows] == ["order.created", "order.completed"]
    created, completed = rows
    assert created.aggregatetype == "order" and created.aggregateid == body["id"]
    assert created.payload == {
        "order_id": body["id"],
        "customer_id": customer["id"],
        "customer_email": "ada@example.com",
        "items": [{"sku": "SKU-0001", "qty": 2, "unit_price": "6.25"}],
        "total": "12.50",
        "currency": "EUR",
        "payment_method": "card",
    }
    assert {created.correlation_id, completed.correlation_id} == {"corr-abc"}
    assert completed.causation_id == str(created.id)


def test_dual_declined_order_writes_order_failed(client, customer, engine, modes) -> None:
    modes.set("order", Mode.DUAL)
    body = post_order(client, customer["id"], payment_method="card_declined").get_json()
    assert (body["status"], body["failure_reason"]) == ("failed", "payment_declined")
    failed = outbox(engine)[-1]
    assert failed.type == "order.failed" and failed.payload["reason"] == "payment_declined"


def test_naive_dual_publishes_after_commit_and_writes_no_outbox(
    client, customer, engine, modes, publisher: MemoryPublisher
) -> None:
    modes.set("order", Mode.NAIVE_DUAL)
    body = post_order(client, customer["id"]).get_json()
    assert [e.type for e in publisher.published] == ["order.created", "order.completed"]
    assert publisher.published[0].subject == body["id"]
    assert publisher.published[0].correlation_id == "corr-abc"
    assert outbox(engine) == []


def test_async_accepts_writes_the_event_and_records_verify_results(
    client, customer, engine, modes, world: FakeWorld
) -> None:
    modes.set_all(Mode.ASYNC)
    resp = post_order(client, customer["id"])
    assert resp.status_code == 202
    assert resp.get_json()["status"] == "accepted"
    assert [r.type for r in outbox(engine)] == ["order.created"]
    assert world.payments == {} and world.shipments == {}
    with Session(bind(engine)) as s:
        ops = [
            (v.context, v.operation)
            for v in s.scalars(select(VerifyResult).order_by(VerifyResult.id))
        ]
    assert ops[-1] == ("order", "finish")
    assert ("payment", "charge") in ops


def test_events_only_accepts_without_any_sync_call(client, customer, engine, modes, world) -> None:
    modes.set_all(Mode.EVENTS_ONLY)
    resp = post_order(client, customer["id"])
    assert resp.status_code == 202
    assert world.calls == []
    assert [r.type for r in outbox(engine)] == ["order.created"]
    assert count_blocked_sync_calls(engine) == 0


def test_a_sync_call_to_an_events_only_context_is_counted(client, customer, engine, modes) -> None:
    modes.set("email", Mode.EVENTS_ONLY)
    assert post_order(client, customer["id"]).get_json()["status"] == "completed"
    assert count_blocked_sync_calls(engine) == 1
    assert count_blocked_sync_calls(engine, context="payment") == 0


def test_unknown_order_is_404_json(client) -> None:
    resp = client.get("/orders/nope")
    assert resp.status_code == 404 and resp.get_json()["error"] == "not found"


def test_duplicate_customer_email_is_409(client, customer) -> None:
    resp = client.post("/customers", json={"name": "Ada 2", "email": "ada@example.com"})
    assert resp.status_code == 409 and resp.get_json()["details"][0]["id"] == customer["id"]


def test_generated_correlation_id_is_returned(client, customer) -> None:
    resp = client.post(
        "/orders", json={"customer_id": customer["id"], "items": [{"sku": "SKU-0002", "qty": 1}]}
    )
    assert len(resp.headers["X-Correlation-ID"]) == 36
    assert resp.get_json()["correlation_id"] == resp.headers["X-Correlation-ID"]


MALFORMED: list[tuple[str, dict[str, Any], int, str]] = [
    ("missing items", {"json": {"customer_id": "CUST"}}, 422, "items"),
    ("missing customer", {"json": {"items": [{"sku": "SKU-0001", "qty": 1}]}}, 422, "customer_id"),
    (
        "qty as string",
        {"json": {"customer_id": "CUST", "items": [{"sku": "SKU-0001", "qty": "2"}]}},
        422,
        "qty",
    ),
    (
        "qty float",
        {"json": {"customer_id": "CUST", "items": [{"sku": "SKU-0001", "qty": 1.5}]}},
        422,
        "qty",
    ),
    (
        "zero qty",
        {"json": {"customer_id": "CUST", "items": [{"sku": "SKU-0001", "qty": 0}]}},
        422,
        "qty",
    ),
    (
        "negative qty",
        {"json": {"customer_id": "CUST", "items": [{"sku": "SKU-0001", "qty": -3}]}},
        422,
        "qty",
    ),
    ("empty items", {"json": {"customer_id": "CUST", "items": []}}, 422, "items"),
    (
        "unknown sku",
        {"json": {"customer_id": "CUST", "items": [{"sku": "NOPE", "qty": 1}]}},
        422,
        "sku",
    ),
    (
        "unknown customer",
        {"json": {"customer_id": "ghost", "items": [{"sku": "SKU-0001", "qty": 1}]}},
        422,
        "customer_id",
    ),
    (
        "bad method",
        {
            "json": {
                "customer_id": "CUST",
                "items": [{"sku": "SKU-0001", "qty": 1}],
                "payment_method": "cash",
            }
        },
        422,
        "payment_method",
    ),
    (
        "extra field",
        {"json": {"customer_id": "CUST", "items": [{"sku": "SKU-0001", "qty": 1}], "x": 1}},
        422,
        "x",
    ),
    (
        "duplicate sku",
        {
            "json": {
                "customer_id": "CUST",
                "items": [{"sku": "SKU-0001", "qty": 1}, {"sku": "SKU-0001", "qty": 2}],
            }
        },
        422,
        "items",
    ),
    ("not an object", {"json": [1, 2]}, 422, ""),
    (
        "invalid json",
        {"data": b'{"customer_id": ', "content_type": "application/json"},
        400,
        "body",
    ),
    ("not utf-8", {"data": b"\xff\xfe{}", "content_type": "application/json"}, 400, "body"),
    (
        "wrong content type",
        {"data": b"customer_id=1", "content_type": "application/x-www-form-urlencoded"},
        415,
        "Content-Type",
    ),
    ("no body", {}, 415, "Content-Type"),
    (
        "too large",
        {"data": b'{"customer_id": "' + b"x" * 5000 + b'"}', "content_type": "application/json"},
        413,
        "",
    ),
]


@pytest.mark.parametrize(
    ("case", "kwargs", "status", "where"), MALFORMED, ids=[m[0] for m in MALFORMED]
)
def test_malformed_order_gets_4xx_with_reasons_and_writes_nothing(
    client, customer, engine, world, modes, case, kwargs, status, where
) -> None:
    modes.set("order", Mode.DUAL)
    if (
        "json" in kwargs
        and isinstance(kwargs["json"], dict)
        and kwargs["json"].get("customer_id") == "CUST"
    ):
        kwargs = {"json": {**kwargs["json"], "customer_id": customer["id"]}}
    resp = client.post("/orders", **kwargs)
    assert resp.status_code == status, resp.get_data()
    body = resp.get_json()
    assert body["error"] and body["details"]
    assert where in str(body["details"])
    assert (
        count(engine, Order) == 0
        and count(engine, OrderItem) == 0
        and count(engine, OutboxEvent) == 0
    )
    assert world.calls == []


@pytest.mark.parametrize(
    "payload",
    [
        {"name": "", "email": "a@b.co"},
        {"name": "A", "email": "nope"},
        {"name": "A"},
        {"name": 3, "email": "a@b.co"},
    ],
)
def test_malformed_customer_gets_422_and_writes_nothing(client, engine, payload) -> None:
    resp = client.post("/customers", json=payload)
    assert resp.status_code == 422 and resp.get_json()["details"]
    assert count(engine, Customer) == 0


def test_commit_failure_in_dual_leaves_neither_order_nor_outbox(
    client, customer, engine, modes, world, monkeypatch
) -> None:
    from legacy_app import outbox as outbox_module

    modes.set("order", Mode.DUAL)

    def broken_row(session, envelope, **_kw):  # the row violates NOT NULL: the commit fails
        session.add(
            OutboxEvent(**{**envelope.to_outbox_row("order"), "payload": None, "type": None})
        )
        return envelope

    monkeypatch.setattr("legacy_app.placing.add_to_outbox", broken_row)
    assert outbox_module.add_to_outbox is not broken_row
    resp = post_order(client, customer["id"])
    assert resp.status_code == 503 and resp.get_json()["error"] == "order not stored"
    assert count(engine, Order) == 0 and count(engine, OutboxEvent) == 0
    assert world.calls == []


def test_mode_flip_needs_no_restart(client, customer, engine, modes: StaticModes) -> None:
    post_order(client, customer["id"])
    modes.set("order", Mode.DUAL)
    post_order(client, customer["id"])
    assert [r.type for r in outbox(engine)] == ["order.created", "order.completed"]
