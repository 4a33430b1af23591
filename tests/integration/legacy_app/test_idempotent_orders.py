"""POST /orders with an Idempotency-Key, against the order service as a gunicorn process on
the stack's PostgreSQL (in ``dual``, so each order also writes its outbox rows)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import requests
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cutover_common.modes import Mode
from legacy_app.models import Order, OutboxEvent, PaymentRecord
from tests.support.cutover_state import write_mode

CONCURRENT = 200


def count(engine, model: type) -> int:  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_200_concurrent_posts_with_one_key_place_one_order(start_app) -> None:  # type: ignore[no-untyped-def]
    app = start_app()
    write_mode(app.engine, "order", Mode.DUAL)
    body = {"customer_id": app.customer(), "items": [{"sku": "SKU-0040", "qty": 1}]}
    key = {"Idempotency-Key": "it-order-1"}

    def post(_: int) -> tuple[int, bytes]:
        resp = requests.post(f"{app.order_url}/orders", json=body, headers=key, timeout=60)
        return resp.status_code, resp.content

    with ThreadPoolExecutor(CONCURRENT) as pool:
        answers = list(pool.map(post, range(CONCURRENT)))

    assert len(set(answers)) == 1, {a[0] for a in answers}
    status, first = answers[0]
    assert status == 201 and b'"status":"completed"' in first.replace(b" ", b"")
    assert (count(app.engine, Order), count(app.engine, PaymentRecord)) == (1, 1)
    with Session(app.engine) as s:
        events = s.scalars(select(OutboxEvent.type).order_by(OutboxEvent.aggregate_version))
        assert list(events) == ["order.created", "order.completed"]

    other = {**body, "items": [{"sku": "SKU-0040", "qty": 2}]}
    reused = requests.post(f"{app.order_url}/orders", json=other, headers=key, timeout=10)
    deep = requests.post(
        f"{app.order_url}/orders",
        data=b"[" * 1000 + b"]" * 1000,
        headers={**key, "Content-Type": "application/json"},
        timeout=10,
    )
    assert (reused.status_code, deep.status_code) == (422, 400)
    assert deep.json() == {"error": "JSON body nested deeper than 32 levels"}
    assert count(app.engine, Order) == 1
