"""Aggregate versions on the real stack: the legacy app's outbox through the real Debezium
connector carries ``aggregate_version`` 1 and 2 per order, in the same bytes as the naive
producer; concurrent writers of one order get distinct versions; old databases upgrade."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from confluent_kafka import Consumer
from confluent_kafka.admin import AdminClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cdc.debezium import (
    DatabaseOptions,
    OutboxOptions,
    PostgresConnectorOptions,
    build_postgres_config,
)
from cdc.errors import ConnectorNotFound
from cutover_common.modes import Mode
from events.envelope import Envelope
from legacy_app.contracts.domain import OrderCompleted
from legacy_app.models import Customer, Order, OutboxEvent
from legacy_app.outbox import add_to_outbox, advance_order, envelope_for
from legacy_app.schema import create_all, make_engine
from rehearsal.stack.endpoints import Endpoints
from tests.integration.topics import ensure_topics
from tests.support.cutover_state import write_mode


@pytest.fixture
def outbox_connector(endpoints: Endpoints, fresh_database: str) -> Iterator[Callable[[str], None]]:
    """``register(prefix)``: a running outbox connector on ``fresh_database`` routing to
    ``<prefix>.order``; deleted (with its topic) before the database is dropped."""
    client = endpoints.connect_client()
    made: list[tuple[str, str]] = []

    def register(prefix: str) -> None:
        name = f"legacy-agv-{prefix}"
        opts = PostgresConnectorOptions(
            database=DatabaseOptions(
                "127.0.0.1", endpoints.pg_port, endpoints.pg_user, fresh_database,
                endpoints.connector_password,
            ),
            topic_prefix=prefix,
            slot_name=prefix,
            publication_name=prefix,
            outbox=OutboxOptions(topic_prefix=prefix),
            heartbeat=None,
            snapshot_mode="no_data",
        )  # fmt: skip
        ensure_topics(endpoints.bootstrap_servers, {f"{prefix}.order": 3})
        made.append((name, f"{prefix}.order"))
        client.create_connector(name, build_postgres_config(opts))
        client.wait_for(name, "RUNNING", timeout_s=90)

    yield register
    for name, topic in made:
        with contextlib.suppress(ConnectorNotFound):
            client.delete_connector(name)
        AdminClient({"bootstrap.servers": endpoints.bootstrap_servers}).delete_topics([topic])


def read_records(bootstrap: str, topic: str, want: int, seconds: float = 60) -> list[Any]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"agv-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    got: list[Any] = []
    deadline = time.monotonic() + seconds
    try:
        while len(got) < want and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is None:
                got.append(msg)
    finally:
        consumer.close()
    return got


def wire_versions(records: list[Any], order_id: str) -> list[tuple[str, bytes]]:
    """(type, raw ``aggregate_version`` header bytes) of one order's records, in topic order."""
    out = []
    for msg in records:
        if msg.key() == order_id.encode():
            headers = dict(msg.headers())
            out.append((headers["type"].decode(), headers["aggregate_version"]))
    return out


def test_debezium_and_the_naive_producer_send_versions_1_and_2_in_the_same_bytes(
    start_app, outbox_connector, endpoints: Endpoints, unique: str
) -> None:
    prefix = f"agv{unique}"
    app = start_app(CUTOVER_OUTBOX_TOPIC_PREFIX=prefix)  # creates the schema first
    outbox_connector(prefix)
    cid = app.customer()
    write_mode(app.engine, "order", Mode.DUAL)
    dual = app.order(cid, [("SKU-0003", 1)]).json()["id"]
    declined = app.order(cid, [("SKU-0004", 1)], "card_declined").json()["id"]
    write_mode(app.engine, "order", Mode.NAIVE_DUAL)
    naive = app.order(cid, [("SKU-0005", 1)]).json()["id"]

    records = read_records(endpoints.bootstrap_servers, f"{prefix}.order", want=6)
    assert wire_versions(records, dual) == [("order.created", b"1"), ("order.completed", b"2")]
    assert wire_versions(records, declined) == [("order.created", b"1"), ("order.failed", b"2")]
    assert wire_versions(records, naive) == [("order.created", b"1"), ("order.completed", b"2")]
    debezium = [m for m in records if m.key() == dual.encode()]
    assert "__debezium.context.connectorName" in dict(debezium[0].headers())  # routed by Debezium
    envelopes = [Envelope.from_confluent_message(m) for m in records]
    assert sorted(e.aggregate_version or 0 for e in envelopes) == [1, 1, 1, 2, 2, 2]
    with Session(app.engine) as s:
        rows = s.execute(
            select(OutboxEvent.aggregateid, OutboxEvent.aggregate_version).order_by(
                OutboxEvent.created_at
            )
        ).all()
    assert [tuple(r) for r in rows] == [(dual, 1), (dual, 2), (declined, 1), (declined, 2)]


def test_concurrent_writers_of_one_order_get_distinct_consecutive_versions(
    endpoints: Endpoints, fresh_database: str
) -> None:
    url = endpoints.database_url(fresh_database)
    create_all(url)
    engine = make_engine(url, pool_size=8)
    sessions = sessionmaker(engine)
    order_id = str(uuid.uuid4())
    with sessions() as s, s.begin():
        customer = Customer(name="Ada", email="ada@example.com")
        s.add(customer)
        s.flush()
        s.add(
            Order(
                id=order_id, customer_id=customer.id, customer_email=customer.email,
                status="pending", total=Decimal("1.00"), currency="EUR", payment_method="card",
                mode="dual", correlation_id="c", version=1,
            )
        )  # fmt: skip
        s.add(
            OutboxEvent(
                id=uuid.uuid4(), aggregatetype="order", aggregateid=order_id,
                type="order.created", payload={}, aggregate_version=1,
            )
        )  # fmt: skip
    start = threading.Barrier(8)
    got: list[int] = []
    errors: list[BaseException] = []

    def writer(i: int) -> None:
        try:
            event = envelope_for(
                OrderCompleted(order_id, Decimal("1.00")), correlation_id="c", causation_id=None
            )
            with sessions() as s, s.begin():
                start.wait(10)  # all eight transactions open at once
                version = advance_order(s, order_id, status=f"step-{i}")
                add_to_outbox(s, event.with_aggregate_version(version))
                time.sleep(0.05)  # hold the row lock: the others queue behind it
            got.append(version)
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    try:
        assert errors == []
        assert sorted(got) == list(range(2, 10))
        with sessions() as s:
            stored = s.scalars(
                select(OutboxEvent.aggregate_version).where(OutboxEvent.aggregateid == order_id)
            ).all()
            order = s.get(Order, order_id)
        # created at 1, then one per writer (created_at is each transaction's start: the
        # database's default, as cutover.emit leaves it; Debezium reads commit order)
        assert sorted(stored) == list(range(1, 10))
        assert order is not None and order.version == 9
    finally:
        engine.dispose()


OLD_LAYOUT = [
    "CREATE TABLE orders (id varchar(36) PRIMARY KEY, customer_id varchar(36), "
    "customer_email varchar(320), status varchar(20), total numeric(12,2), currency varchar(3), "
    "payment_method varchar(40), mode varchar(20), correlation_id varchar(255), "
    "failure_reason varchar(200), compensation_errors varchar(1000), "
    "created_at timestamptz DEFAULT now(), finished_at timestamptz)",
    "CREATE TABLE outbox (id uuid PRIMARY KEY, aggregatetype varchar(255) NOT NULL, "
    "aggregateid varchar(255) NOT NULL, type varchar(255) NOT NULL, payload jsonb NOT NULL, "
    "correlation_id varchar(255), causation_id varchar(255), "
    "created_at timestamptz NOT NULL DEFAULT now())",
]


def test_a_database_from_before_the_versions_is_upgraded_by_create_all(
    endpoints: Endpoints, fresh_database: str
) -> None:
    dsn = endpoints.dsn(fresh_database)
    with psycopg.connect(dsn, autocommit=True) as conn:
        for ddl in OLD_LAYOUT:
            conn.execute(ddl)
        conn.execute(
            "INSERT INTO orders (id, status, finished_at) VALUES "
            "('o-1', 'completed', now()), ('o-2', 'accepted', NULL)"
        )
        for agg, typ, ts in (
            ("o-1", "order.completed", "2026-11-26 12:00:05+00"),
            ("o-1", "order.created", "2026-11-26 12:00:00+00"),
            ("o-2", "order.created", "2026-11-26 12:00:01+00"),
        ):
            conn.execute(
                "INSERT INTO outbox (id, aggregatetype, aggregateid, type, payload, created_at) "
                "VALUES (%s, 'order', %s, %s, '{}', %s)",
                (uuid.uuid4(), agg, typ, ts),
            )
    create_all(endpoints.database_url(fresh_database))
    create_all(endpoints.database_url(fresh_database))  # idempotent
    with psycopg.connect(dsn, autocommit=True) as conn:
        outbox = conn.execute(
            "SELECT aggregateid, type, aggregate_version FROM outbox ORDER BY aggregateid, 3"
        ).fetchall()
        orders = conn.execute("SELECT id, version FROM orders ORDER BY id").fetchall()
        nullable = conn.execute(
            "SELECT is_nullable FROM information_schema.columns "
            "WHERE table_name = 'outbox' AND column_name = 'aggregate_version'"
        ).fetchone()
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute(
                "INSERT INTO outbox (id, aggregatetype, aggregateid, type, payload, "
                "aggregate_version) VALUES (%s, 'order', 'o-2', 'order.completed', '{}', 1)",
                (uuid.uuid4(),),
            )
    assert outbox == [
        ("o-1", "order.created", 1),
        ("o-1", "order.completed", 2),
        ("o-2", "order.created", 1),
    ]
    assert orders == [("o-1", 2), ("o-2", 1)]
    assert nullable == ("NO",)
