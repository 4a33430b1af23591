"""Gaps and reorders per aggregate on the real stack: rows written to the legacy outbox by its
own writer, routed by the real Debezium connector (``aggregate_version`` header), read by a
shadow worker on the real Kafka, counted in ``shadow.delivery_anomalies`` on the real Postgres."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from sqlalchemy.orm import Session

from cdc.client import ConnectClient
from cdc.debezium import heartbeat_table_ddl
from cdc.errors import ConnectorNotFound
from events.envelope import Envelope
from legacy_app.contracts.domain import OrderCompleted, OrderCreated
from legacy_app.contracts.values import OrderLine
from legacy_app.orderflow.catalogue import initial_stock
from legacy_app.orderflow.domain import Order
from legacy_app.orderflow.processors import AnalyticsProcessor
from legacy_app.orderflow.store_pg import PostgresStore
from legacy_app.outbox import add_to_outbox, envelope_for
from legacy_app.schema import create_all, make_engine
from rehearsal.stack.endpoints import Endpoints
from shadow.messages import InboundEvent
from tests.integration.shadow.conftest import kafka_worker, read_topic, register_outbox_connector


class LifecycleProcessor(AnalyticsProcessor):
    """Takes every order lifecycle event (so each is sequence-checked) and records nothing."""

    entry_types = frozenset({"order.created", "order.completed", "order.failed"})

    def __init__(self) -> None:
        super().__init__("it.lifecycle")

    def parse(self, event: InboundEvent) -> Order:
        total = Decimal(str(event.payload.get("total", "0")))
        return Order(event.aggregate_id, "", "", (), total, "EUR", "")

    def apply(
        self, event: InboundEvent, parsed: object, changes: Any, batch: Any, scope: object
    ) -> None:
        assert isinstance(parsed, Order)
        return None


@pytest.fixture
def legacy_outbox(endpoints: Endpoints, fresh_database: str, unique: str) -> Iterator[str]:
    """The legacy schema in ``fresh_database`` captured by a running outbox connector; the topic."""
    create_all(endpoints.database_url(fresh_database))
    with psycopg.connect(endpoints.dsn(fresh_database), autocommit=True) as conn:
        conn.execute(heartbeat_table_ddl())
    name, topic = register_outbox_connector(endpoints, fresh_database, unique)
    yield topic
    with contextlib.suppress(ConnectorNotFound):
        ConnectClient.from_url(endpoints.connect_url).delete_connector(name)


def lifecycle(order_id: str) -> tuple[Envelope, Envelope]:
    """``order.created`` (version 1) and ``order.completed`` (version 2) of one order."""
    total = Decimal("6.25")
    created = envelope_for(
        OrderCreated(order_id, "c-1", "a@example.com", (OrderLine("SKU-0001", 1, total),), total,
                     "card"),
        correlation_id=f"corr-{order_id}", causation_id=None,
    ).with_aggregate_version(1)  # fmt: skip
    completed = envelope_for(
        OrderCompleted(order_id, total), correlation_id=f"corr-{order_id}", causation_id=created.id
    ).with_aggregate_version(2)
    return created, completed


def test_a_missing_and_an_overtaken_version_are_counted_per_context(
    endpoints: Endpoints, fresh_database: str, legacy_outbox: str, unique: str
) -> None:
    ok, lost, swap = (f"{kind}-{unique}" for kind in ("ok", "lost", "swap"))
    ok_created, ok_completed = lifecycle(ok)
    _, lost_completed = lifecycle(lost)  # its order.created never reaches the outbox
    swap_created, swap_completed = lifecycle(swap)
    engine = make_engine(endpoints.database_url(fresh_database), pool_size=1)
    try:
        # one transaction per event, committed in this order (Debezium keeps it per key)
        for event in (ok_created, ok_completed, lost_completed, swap_completed, swap_created):
            with Session(engine) as session, session.begin():
                add_to_outbox(session, event)
    finally:
        engine.dispose()
    records = read_topic(endpoints, legacy_outbox, expected=5)
    assert sorted(dict(m.headers())["aggregate_version"] for m in records) == [
        b"1", b"1", b"2", b"2", b"2",
    ]  # fmt: skip

    group = f"it-seq-{unique}"
    store = PostgresStore(endpoints.dsn(fresh_database))
    store.ensure_schema(initial_stock())
    worker = kafka_worker(
        endpoints, store, LifecycleProcessor(), legacy_outbox, group, backoff_base=0.01
    )
    worker.run(lambda: False, idle_stop=5.0)

    with psycopg.connect(endpoints.dsn(fresh_database), autocommit=True) as conn:
        anomalies = conn.execute(
            "SELECT context, kind, count FROM shadow.delivery_anomalies ORDER BY kind"
        ).fetchall()
        processed = conn.execute(
            "SELECT count(*) FROM shadow.processed_events WHERE consumer = 'it.lifecycle'"
        ).fetchone()
        highest = dict(
            conn.execute("SELECT aggregate_id, last_sequence FROM shadow.aggregate_sequences")
        )
    assert anomalies == [("order", "gap", 2), ("order", "reorder", 1)]
    assert processed == (5,)
    assert highest == {ok: 2, lost: 2, swap: 2}
