"""Envelopes written to a real outbox come back whole through Debezium's Outbox Event Router.

Real Postgres, a real Debezium Postgres connector with the Event Router (built
by :mod:`cdc.debezium`), real Kafka: an ``order.created`` event and a follow-up
caused by it are inserted with :meth:`Envelope.to_outbox_row`, consumed, and
decoded with :meth:`Envelope.from_confluent_message` + :func:`events.codec.decode`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal

import psycopg
import pytest
from confluent_kafka import Consumer
from psycopg.types.json import Jsonb

from cdc.debezium import (
    DatabaseOptions,
    HeartbeatOptions,
    OutboxOptions,
    PostgresConnectorOptions,
    build_postgres_config,
)
from events.codec import decode, encode
from events.envelope import Envelope
from events.registry import ContractRegistry
from legacy_app.contracts import CONTRACTS
from legacy_app.contracts.domain import InventoryReserved, OrderCreated
from legacy_app.contracts.values import OrderItem, OrderLine
from rehearsal.sample import SAMPLE_CONTRACTS
from rehearsal.stack.endpoints import Endpoints
from tests.integration.topics import ensure_connector_topics

pytestmark = pytest.mark.integration

OUTBOX_DDL = (
    "create table outbox (id uuid primary key, aggregatetype varchar(255) not null, "
    "aggregateid varchar(255) not null, type varchar(255) not null, payload jsonb not null, "
    "correlation_id varchar(255), causation_id varchar(255), "
    "created_at timestamptz not null default now())"
)
HEARTBEAT_DDL = (
    "create table if not exists debezium_heartbeat (id integer primary key, ts timestamptz)"
)


@pytest.fixture
def outbox_topic(endpoints: Endpoints, fresh_database: str, unique: str) -> Iterator[str]:
    """A running outbox connector on ``fresh_database``; yields the ``order`` topic name."""
    with psycopg.connect(endpoints.dsn(fresh_database), autocommit=True) as conn:
        conn.execute(OUTBOX_DDL)
        conn.execute(HEARTBEAT_DDL)
    # not "it-...": the cdc fixtures delete every "it-*" connector that appears during their tests
    name, prefix = f"events-it-{unique}", f"events_it_{unique}"
    options = PostgresConnectorOptions(
        database=DatabaseOptions(
            "127.0.0.1",
            endpoints.pg_port,
            endpoints.pg_user,
            fresh_database,
            endpoints.connector_password,
        ),
        topic_prefix=prefix,
        slot_name=prefix,
        publication_name=prefix,
        outbox=OutboxOptions(topic_prefix=f"{prefix}.outbox"),
        heartbeat=HeartbeatOptions(interval_ms=1000, table="public.debezium_heartbeat"),
    )
    client = endpoints.connect_client()
    config = build_postgres_config(options)
    ensure_connector_topics(endpoints.bootstrap_servers, config)  # none is created on use
    client.create_connector(name, config)
    try:
        client.wait_for(name, "RUNNING", timeout_s=90)
        yield f"{prefix}.outbox.order"
    finally:
        client.delete_connector(name)


def consume(endpoints: Endpoints, topic: str, group: str, want: int, timeout_s: float = 90) -> list:  # type: ignore[type-arg]
    consumer = Consumer(
        {
            "bootstrap.servers": endpoints.bootstrap_servers,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    messages = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(messages) < want and time.monotonic() < deadline:
            msg = consumer.poll(1.0)
            if msg is None or msg.error():
                continue
            messages.append(msg)
    finally:
        consumer.close()
    return messages


def test_outbox_rows_come_back_as_the_same_events(
    endpoints: Endpoints, fresh_database: str, outbox_topic: str, unique: str
) -> None:
    created = OrderCreated(
        order_id=f"o-{unique}",
        customer_id="42",
        customer_email="ann@example.com",
        items=(
            OrderLine("SKU-0001", 2, Decimal("6.25")),
            OrderLine("SKU-0050", 1, Decimal("67.50")),
        ),
        total=Decimal("80.00"),
        payment_method="card",
    )
    contracts = ContractRegistry.load(SAMPLE_CONTRACTS)
    first = encode(created, contracts, correlation_id=f"corr-{unique}")
    reserved = InventoryReserved(
        created.order_id, (OrderItem("SKU-0001", 2), OrderItem("SKU-0050", 1))
    )
    second = encode(reserved, contracts, caused_by=first)
    with psycopg.connect(endpoints.dsn(fresh_database), autocommit=True) as conn:
        for env in (first, second):
            row = env.to_outbox_row("order")
            conn.execute(
                "insert into outbox (id, aggregatetype, aggregateid, type, payload, "
                "correlation_id, causation_id) values (%s, %s, %s, %s, %s, %s, %s)",
                (
                    row["id"],
                    row["aggregatetype"],
                    row["aggregateid"],
                    row["type"],
                    Jsonb(row["payload"]),
                    row["correlation_id"],
                    row["causation_id"],
                ),
            )

    messages = consume(endpoints, outbox_topic, f"it-events-{unique}", want=2)

    assert len(messages) == 2
    envelopes = [Envelope.from_confluent_message(m) for m in messages]
    assert [m.key() for m in messages] == [created.order_id.encode()] * 2
    assert [e.id for e in envelopes] == [first.id, second.id]
    assert [e.type for e in envelopes] == ["order.created", "inventory.reserved"]
    assert [e.correlation_id for e in envelopes] == [f"corr-{unique}", f"corr-{unique}"]
    assert [e.causation_id for e in envelopes] == [None, first.id]
    assert all(e.subject == created.order_id and e.time is not None for e in envelopes)
    assert decode(envelopes[0], contracts, CONTRACTS).payload == created
    assert decode(envelopes[1], contracts, CONTRACTS).payload == reserved
    assert envelopes[0].data == first.data
