"""The repair writer on the legacy app's real schema (no mocks): versions as the app gives them."""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.orm import Session

from comparators import commands
from comparators.outbox import OutboxWriter, PostgresOutbox, VersionedAggregate
from comparators.repair import OutboxEvent
from events.envelope import Envelope
from legacy_app.outbox import add_to_outbox, advance_order
from legacy_app.schema import create_schema, make_engine
from rehearsal.stack.endpoints import Endpoints
from tests.integration.comparators.test_sql_compare import insert, plan_file
from tests.support.plans import load_config
from tests.unit.comparators.factories import LATER, record
from tests.unit.comparators.outbox_contract import OutboxWriterContract, repair_event

pytestmark = pytest.mark.integration

ORDERS = {"order": VersionedAggregate("orders")}
"""The legacy app's counter: ``orders.version`` (``cutover repair --versioned-aggregate
order=orders``)."""


def legacy_schema(endpoints: Endpoints, database: str, orders: Mapping[str, int]) -> str:
    """The legacy tables (``create_schema``) with ``orders`` at the given versions; the DSN."""
    engine = make_engine(endpoints.database_url(database), pool_size=1)
    try:
        create_schema(engine)
    finally:
        engine.dispose()
    dsn = endpoints.dsn(database)
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "INSERT INTO customers (id, name, email) VALUES ('c-1', 'Ann', 'ann@example.com')"
        )
        for order_id, version in orders.items():
            conn.execute(
                "INSERT INTO orders (id, customer_id, customer_email, status, total, currency,"
                " payment_method, mode, correlation_id, version) VALUES"
                " (%s, 'c-1', 'ann@example.com', 'completed', 23.75, 'EUR', 'card', 'dual', %s, %s)",
                (order_id, f"corr-{order_id}", version),
            )
    return dsn


class TestPostgresOutboxContract(OutboxWriterContract):
    @pytest.fixture(autouse=True)
    def _db(self, endpoints: Endpoints, fresh_database: str) -> Iterator[None]:
        self.endpoints, self.database = endpoints, fresh_database
        yield

    def make_writer(
        self, orders: Mapping[str, int], *, versioned_outbox: bool = True
    ) -> OutboxWriter:
        self.dsn = legacy_schema(self.endpoints, self.database, orders)
        if not versioned_outbox:  # an outbox from before the column
            with psycopg.connect(self.dsn) as conn:
                conn.execute("ALTER TABLE outbox DROP COLUMN aggregate_version")
        self.versioned_outbox = versioned_outbox
        return PostgresOutbox(self.endpoints.database_url(self.database), versioned=ORDERS)

    def written_versions(self) -> dict[str, int]:
        column = "aggregate_version" if self.versioned_outbox else "0"
        with psycopg.connect(self.dsn) as conn:
            rows = conn.execute(f"SELECT id::text, {column} FROM outbox").fetchall()
        return {event_id: int(version) for event_id, version in rows}

    def order_versions(self) -> dict[str, int]:
        with psycopg.connect(self.dsn) as conn:
            return dict(conn.execute("SELECT id, version FROM orders").fetchall())


def test_the_legacy_apps_next_change_follows_the_repair_version(
    endpoints: Endpoints, fresh_database: str
) -> None:
    """The app and the repair share one counter: neither hands out a version twice."""
    legacy_schema(endpoints, fresh_database, {"o-1": 1})
    url = endpoints.database_url(fresh_database)
    repaired = repair_event("o-1")
    assert PostgresOutbox(url, versioned=ORDERS).write([repaired]) == 1
    engine = make_engine(url, pool_size=1)
    try:
        with Session(engine) as session, session.begin():
            version = advance_order(session, "o-1", status="completed")
            completed = repair_event("o-1", run_id="app", event_type="order.completed")
            add_to_outbox(session, _envelope(completed).with_aggregate_version(version))
    finally:
        engine.dispose()
    with psycopg.connect(endpoints.dsn(fresh_database)) as conn:
        rows = conn.execute(
            "SELECT type, aggregate_version FROM outbox ORDER BY aggregate_version"
        ).fetchall()
    assert version == 3
    assert rows == [("order.created", 2), ("order.completed", 3)]


def test_repair_command_on_the_legacy_schema_numbers_each_order_once(
    endpoints: Endpoints, fresh_database: str, tmp_path: Path
) -> None:
    """``commands.repair --apply`` against the legacy outbox: missing orders get their next
    version, a second apply of the same run changes nothing."""
    dsn = legacy_schema(endpoints, fresh_database, {"ord-000002": 2, "ord-000003": 1})
    insert(dsn, "sync_outcomes", [record(i) for i in (1, 2, 3)])
    insert(dsn, "event_outcomes", [record(1, source="event")])
    url = endpoints.database_url(fresh_database)
    config = load_config(plan_file(tmp_path), "order", env={"CMP_TEST_DB": url})
    writer = PostgresOutbox(url, versioned=ORDERS)
    for expected in (2, 0):
        _, written = commands.repair(
            config, writer=writer, apply=True, run_id="t1", now=LATER, stdout=io.StringIO()
        )
        assert written == expected
    with psycopg.connect(dsn) as conn:
        outbox = conn.execute(
            "SELECT aggregateid, type, causation_id, aggregate_version FROM outbox"
            " ORDER BY aggregateid"
        ).fetchall()
        orders = dict(conn.execute("SELECT id, version FROM orders").fetchall())
    assert outbox == [
        ("ord-000002", "order.created", "repair:t1", 3),
        ("ord-000003", "order.created", "repair:t1", 2),
    ]
    assert orders == {"ord-000002": 3, "ord-000003": 2}


def _envelope(event: OutboxEvent) -> Envelope:
    return Envelope(
        id=str(event.id),
        source="/orders",
        type=event.type,
        data=event.payload,
        subject=event.aggregateid,
        correlation_id=event.correlation_id,
    )
