"""Aggregate versions of the order service's events (SQLite, fake downstreams, memory publisher).

Every event carries its order's version: ``order.created`` 1, the final event 2;
the outbox column and the Kafka header agree, and a database from before the
versions is upgraded in place.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.exc import IntegrityError, NoResultFound
from sqlalchemy.orm import Session

from cutover_common.modes import Mode
from legacy_app.contracts.domain import OrderCompleted
from legacy_app.models import Order, OutboxEvent
from legacy_app.modes import StaticModes
from legacy_app.outbox import (
    KafkaPublisher,
    MemoryPublisher,
    add_to_outbox,
    advance_order,
    envelope_for,
)
from legacy_app.schema import create_schema, upgrade_columns


def post_order(client: FlaskClient, customer_id: str, method: str = "card") -> dict[str, Any]:
    body = {
        "customer_id": customer_id,
        "items": [{"sku": "SKU-0001", "qty": 1}],
        "payment_method": method,
    }
    resp = client.post("/orders", json=body)
    assert resp.status_code in (201, 202), resp.get_data(as_text=True)
    return dict(resp.get_json())


def versions(engine: Engine, order_id: str) -> list[tuple[str, int]]:
    with Session(engine) as s:
        rows = s.scalars(
            select(OutboxEvent)
            .where(OutboxEvent.aggregateid == order_id)
            .order_by(OutboxEvent.aggregate_version)
        )
        return [(r.type, r.aggregate_version) for r in rows]


def order_version(engine: Engine, order_id: str) -> int:
    with Session(engine) as s:
        order = s.get(Order, order_id)
        assert order is not None
        return order.version


def completed_event(order_id: str) -> Any:
    return envelope_for(
        OrderCompleted(order_id, Decimal("6.25")), correlation_id="c", causation_id=None
    )


@pytest.mark.parametrize(
    ("method", "final"), [("card", "order.completed"), ("card_declined", "order.failed")]
)
def test_dual_numbers_created_1_and_the_final_event_2(
    client: FlaskClient, customer: dict[str, str], engine: Engine, modes: StaticModes, method, final
) -> None:
    modes.set("order", Mode.DUAL)
    order = post_order(client, customer["id"], method)
    assert versions(engine, order["id"]) == [("order.created", 1), (final, 2)]
    assert order_version(engine, order["id"]) == 2


def test_versions_are_per_order(
    client: FlaskClient, customer: dict[str, str], engine: Engine, modes: StaticModes
) -> None:
    modes.set("order", Mode.DUAL)
    first, second = post_order(client, customer["id"]), post_order(client, customer["id"])
    assert [v for _, v in versions(engine, first["id"])] == [1, 2]
    assert [v for _, v in versions(engine, second["id"])] == [1, 2]


@pytest.mark.parametrize("mode", [Mode.ASYNC, Mode.EVENTS_ONLY])
def test_accepted_orders_write_created_at_version_1(
    client: FlaskClient, customer: dict[str, str], engine: Engine, modes: StaticModes, mode
) -> None:
    modes.set_all(mode)
    order = post_order(client, customer["id"])
    assert versions(engine, order["id"]) == [("order.created", 1)]
    assert order_version(engine, order["id"]) == 1


def test_sync_orders_count_versions_without_writing_events(
    client: FlaskClient, customer: dict[str, str], engine: Engine
) -> None:
    order = post_order(client, customer["id"])
    assert versions(engine, order["id"]) == []
    assert order_version(engine, order["id"]) == 2


def test_naive_dual_publishes_the_same_versions_and_header_bytes(
    client: FlaskClient, customer: dict[str, str], modes: StaticModes, publisher: MemoryPublisher
) -> None:
    modes.set("order", Mode.NAIVE_DUAL)
    post_order(client, customer["id"])
    assert [e.aggregate_version for e in publisher.published] == [1, 2]
    headers = [dict(e.to_kafka_headers()) for e in publisher.published]
    assert [h["aggregate_version"] for h in headers] == [b"1", b"2"]


class RecordingProducer:
    """Stands in for confluent_kafka.Producer: keeps what was produced."""

    def __init__(self) -> None:
        self.produced: list[dict[str, Any]] = []

    def produce(self, topic: str, **kw: Any) -> None:
        self.produced.append({"topic": topic, **kw})

    def poll(self, timeout: float) -> int:
        return 0

    def flush(self, timeout: float) -> int:
        return 0


def test_kafka_publisher_sends_the_aggregate_version_header() -> None:
    producer = RecordingProducer()
    publisher = KafkaPublisher("unused:9092", "outbox.event.order", producer=producer)
    publisher.publish(completed_event("o-1").with_aggregate_version(2))
    [sent] = producer.produced
    assert ("aggregate_version", b"2") in sent["headers"]
    assert sent["key"] == b"o-1" and sent["topic"] == "outbox.event.order"


def stored_order(engine: Engine) -> str:
    order_id = str(uuid.uuid4())
    with Session(engine) as s, s.begin():
        cust = s.execute(
            text("INSERT INTO customers (id, name, email) VALUES (:i, 'A', :e) RETURNING id"),
            {"i": str(uuid.uuid4()), "e": f"{order_id}@example.com"},
        ).scalar_one()
        s.add(
            Order(
                id=order_id, customer_id=cust, customer_email="a@example.com", status="pending",
                total=Decimal("6.25"), currency="EUR", payment_method="card", mode="dual",
                correlation_id="c", version=1,
            )
        )  # fmt: skip
    return order_id


def test_advance_order_hands_out_consecutive_versions(engine: Engine) -> None:
    order_id = stored_order(engine)
    got = []
    for status in ("paid", "shipped", "completed"):
        with Session(engine) as s, s.begin():
            got.append(advance_order(s, order_id, status=status))
    assert got == [2, 3, 4]
    with Session(engine) as s:
        order = s.get(Order, order_id)
        assert order is not None and (order.status, order.version) == ("completed", 4)


def test_advance_order_of_a_missing_order_raises(engine: Engine) -> None:
    with Session(engine) as s, s.begin(), pytest.raises(NoResultFound):
        advance_order(s, "no-such-order", status="completed")


def test_an_unversioned_event_is_refused_by_the_outbox(engine: Engine) -> None:
    with Session(engine) as s, pytest.raises(ValueError, match="no aggregate version"):
        add_to_outbox(s, completed_event("o-1"))


def test_the_outbox_refuses_a_second_row_with_the_same_version(engine: Engine) -> None:
    order_id = stored_order(engine)
    with Session(engine) as s, s.begin():
        add_to_outbox(s, completed_event(order_id).with_aggregate_version(2))
    with pytest.raises(IntegrityError), Session(engine) as s, s.begin():
        add_to_outbox(s, completed_event(order_id).with_aggregate_version(2))
    assert versions(engine, order_id) == [("order.completed", 2)]


def test_rows_without_a_version_default_to_0_and_may_repeat(engine: Engine) -> None:
    insert = text(
        "INSERT INTO outbox (id, aggregatetype, aggregateid, type, payload) "
        "VALUES (:id, 'order', 'o-r', 'order.created', '{}')"
    )
    with engine.begin() as conn:  # a writer that knows no versions (a repair run)
        for _ in range(2):
            conn.execute(insert, {"id": uuid.uuid4().hex})
    assert versions(engine, "o-r") == [("order.created", 0), ("order.created", 0)]


OLD_ORDERS = (
    "CREATE TABLE orders (id VARCHAR(36) PRIMARY KEY, customer_id VARCHAR(36), "
    "customer_email VARCHAR(320), status VARCHAR(20), total NUMERIC(12,2), currency VARCHAR(3), "
    "payment_method VARCHAR(40), mode VARCHAR(20), correlation_id VARCHAR(255), "
    "failure_reason VARCHAR(200), compensation_errors VARCHAR(1000), created_at TIMESTAMP, "
    "finished_at TIMESTAMP)"
)
OLD_OUTBOX = (
    "CREATE TABLE outbox (id CHAR(32) PRIMARY KEY, aggregatetype VARCHAR(255), "
    "aggregateid VARCHAR(255), type VARCHAR(255), payload JSON, correlation_id VARCHAR(255), "
    "causation_id VARCHAR(255), created_at TIMESTAMP)"
)


def test_a_database_from_before_the_versions_is_upgraded_in_place(tmp_path) -> None:
    engine = create_engine(f"sqlite+pysqlite:///{tmp_path / 'old.db'}")
    with engine.begin() as conn:
        conn.execute(text(OLD_ORDERS))
        conn.execute(text(OLD_OUTBOX))
        conn.execute(text(
            "INSERT INTO orders (id, status, finished_at) VALUES "
            "('o-1', 'completed', '2026-11-26 12:00:05'), ('o-2', 'accepted', NULL)"
        ))  # fmt: skip
        conn.execute(text(
            "INSERT INTO outbox (id, aggregatetype, aggregateid, type, payload, created_at) VALUES "
            "('b', 'order', 'o-1', 'order.completed', '{}', '2026-11-26 12:00:05'), "
            "('a', 'order', 'o-1', 'order.created', '{}', '2026-11-26 12:00:00'), "
            "('c', 'order', 'o-2', 'order.created', '{}', '2026-11-26 12:00:01')"
        ))  # fmt: skip
    create_schema(engine)
    with engine.connect() as conn:
        outbox = conn.execute(
            text("SELECT aggregateid, type, aggregate_version FROM outbox ORDER BY id")
        ).all()
        orders = conn.execute(text("SELECT id, version FROM orders ORDER BY id")).all()
        indexes = conn.execute(text("PRAGMA index_list('outbox')")).all()
        assert upgrade_columns(conn) == []  # a second run finds nothing to do
    assert [tuple(r) for r in outbox] == [
        ("o-1", "order.created", 1),
        ("o-1", "order.completed", 2),
        ("o-2", "order.created", 1),
    ]
    assert [tuple(r) for r in orders] == [("o-1", 2), ("o-2", 1)]
    assert "uq_outbox_aggregate_version" in {row[1] for row in indexes}
    engine.dispose()
