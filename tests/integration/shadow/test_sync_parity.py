"""The real legacy app in ``dual`` mode, its outbox captured by Debezium, the shadow pipeline on
the events: a declined payment produces the same compensation on the event path as on the sync
path (and so do a completed and an out-of-stock order)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from cdc.client import ConnectClient
from cdc.debezium import heartbeat_table_ddl
from cdc.errors import ConnectorNotFound
from cutover_common.secrets import Secret
from legacy_app.modes import CONTEXTS as SAMPLE_CONTEXTS
from legacy_app.orderflow.catalogue import initial_stock
from legacy_app.orderflow.effects import RecordingEffects
from legacy_app.orderflow.processors import Coordination, FlowProcessor
from legacy_app.orderflow.store_pg import PostgresStore
from legacy_app.outcome import Notification, Payment, Reservation, ReservationLine
from legacy_app.outcomes import iter_sync_outcomes
from legacy_app.runner import RunSpec, start_services, stop_services
from legacy_app.schema import make_engine
from legacy_app.wsgi import SERVICES
from rehearsal.stack.endpoints import Endpoints
from tests.integration.legacy_app.conftest import Running, free_ports
from tests.integration.shadow.conftest import kafka_worker, register_outbox_connector, wait_until
from tests.integration.shadow.expected import comparable


@pytest.fixture
def dual_app(
    endpoints: Endpoints, fresh_database: str, tmp_path: Path, unique: str
) -> Iterator[tuple[Running, str]]:
    ports = dict(zip(SERVICES, free_ports(len(SERVICES)), strict=True))
    spec = RunSpec(
        run_dir=tmp_path / "app",
        database_url=Secret(endpoints.database_url(fresh_database)),
        ports=ports,
        host=endpoints.host,
        env={"CUTOVER_MODE_CACHE_SECONDS": "0"},
        threads=4,
    )
    start_services(spec)
    with psycopg.connect(endpoints.dsn(fresh_database), autocommit=True) as conn:
        conn.execute(heartbeat_table_ddl())
        for context in SAMPLE_CONTEXTS:
            conn.execute(
                "INSERT INTO cutover.context_modes (context, mode) VALUES (%s, 'dual') "
                "ON CONFLICT (context) DO UPDATE SET mode = 'dual'",
                (context,),
            )
    name, topic = register_outbox_connector(endpoints, fresh_database, unique)
    running = Running(spec, make_engine(spec.database_url.reveal(), pool_size=2))
    try:
        yield running, topic
    finally:
        stop_services(spec.run_dir)
        running.engine.dispose()
        with contextlib.suppress(ConnectorNotFound):
            ConnectClient.from_url(endpoints.connect_url).delete_connector(name)


@pytest.mark.parametrize(
    ("coordination", "write_behind"),
    [
        (Coordination.CHOREOGRAPHY, True),  # as `cutover shadow run` does in dual mode
        (Coordination.SAGA, True),
        (Coordination.CHOREOGRAPHY, False),  # the serial path (async mode)
    ],
)
def test_declined_payment_compensates_alike_on_both_paths(
    dual_app: tuple[Running, str],
    endpoints: Endpoints,
    fresh_database: str,
    unique: str,
    coordination: Coordination,
    write_behind: bool,
) -> None:
    app, topic = dual_app
    cid = app.customer("dana@example.com")
    placed = {
        "declined": app.order(cid, [("SKU-0002", 3)], "card_declined"),
        "completed": app.order(
            cid, [("SKU-0050", 2)], headers={"X-Correlation-ID": f"corr-{unique}"}
        ),
        "out_of_stock": app.order(cid, [("SKU-0001", 1), ("SKU-OOS-1", 1)]),
    }
    assert all(r.status_code == 201 for r in placed.values()), [r.text for r in placed.values()]
    ids = {k: r.json()["id"] for k, r in placed.items()}

    store = PostgresStore(endpoints.dsn(fresh_database))
    store.ensure_schema(initial_stock())
    group = f"shadow-parity-{unique}-{coordination.value}-{write_behind}"
    writer = PostgresStore(endpoints.dsn(fresh_database)) if write_behind else None
    worker = kafka_worker(
        endpoints, store, FlowProcessor(RecordingEffects(), coordination=coordination), topic,
        group, writer, batch_timeout=0.5,
    )  # fmt: skip
    reader = PostgresStore(endpoints.dsn(fresh_database))
    try:
        wait_until(
            lambda: (worker.step(), len(reader.outcomes()) == 3)[1], 90, "three event outcomes"
        )
    finally:
        worker.close()

    sync = {o.order_id: o for o in iter_sync_outcomes(app.engine)}
    event = {o.order_id: o for o in reader.outcomes()}
    reader.close()
    for key in ids.values():
        assert comparable(event[key]) == comparable(sync[key]), key

    declined = event[ids["declined"]]
    assert declined.status == "failed"
    assert declined.reservation == Reservation((ReservationLine("SKU-0002", 3),), released=True)
    assert declined.payment is not None and declined.payment.status == "declined"
    assert declined.payment == Payment(declined.total, "declined", 1)
    assert declined.shipment is None
    assert declined.notifications == (Notification("payment_declined", "dana@example.com"),)
    assert event[ids["completed"]].correlation_id == f"corr-{unique}"
    assert event[ids["out_of_stock"]].reservation is None
