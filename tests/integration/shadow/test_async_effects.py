"""``async`` mode: the same handlers perform the effects over HTTP on the real downstream
services; while a service is down its circuit opens and the partition is paused (nothing is
dead-lettered), and when it is back the event is applied once."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from confluent_kafka import Producer

from cutover_common.secrets import Secret
from legacy_app.orderflow.catalogue import initial_stock
from legacy_app.orderflow.effects import HttpEffects
from legacy_app.orderflow.processors import FlowProcessor
from legacy_app.orderflow.samples import order_payload, outbox_headers, outbox_value
from legacy_app.orderflow.store_pg import PostgresStore
from legacy_app.runner import RunSpec, start_services, stop_services
from legacy_app.wsgi import SERVICES
from rehearsal.stack.endpoints import Endpoints
from shadow.breaker import CircuitBreaker
from tests.integration.legacy_app.conftest import free_ports
from tests.integration.shadow.conftest import kafka_worker, topic_size_of, wait_until
from tests.integration.shadow.expected import comparable, expected_outcomes
from tests.integration.topics import ensure_topics


@pytest.fixture
def services(endpoints: Endpoints, fresh_database: str, tmp_path: Path) -> Iterator[RunSpec]:
    ports = dict(zip(SERVICES, free_ports(len(SERVICES)), strict=True))
    spec = RunSpec(
        run_dir=tmp_path / "svc", database_url=Secret(endpoints.database_url(fresh_database)),
        ports=ports, host=endpoints.host, threads=4,
    )  # fmt: skip
    start_services(spec)
    try:
        yield spec
    finally:
        stop_services(spec.run_dir)


def _kill(spec: RunSpec, service: str) -> None:
    pid = int((spec.run_dir / f"{service}.pid").read_text())
    os.killpg(pid, signal.SIGKILL)  # gunicorn master and its workers
    wait_until(lambda: not _alive(pid), 10, f"{service} to die")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().split()[2] != "Z"


def test_async_mode_performs_effects_and_pauses_while_a_service_is_down(
    services: RunSpec, endpoints: Endpoints, fresh_database: str, unique: str
) -> None:
    topic, group = f"shadow-async-{unique}.order", f"shadow-async-{unique}"
    ensure_topics(endpoints.bootstrap_servers, {topic: 1})
    producer = Producer({"bootstrap.servers": endpoints.bootstrap_servers})
    payloads = [
        order_payload("as-ok", [("SKU-0010", 2)], email="e1@example.com"),
        order_payload(
            "as-declined", [("SKU-0011", 1)], payment_method="card_declined", email="e2@example.com"
        ),
        order_payload("as-oos", [("SKU-OOS-3", 1)], email="e3@example.com"),
    ]
    rows = []
    for i, p in enumerate(payloads):
        eid = f"00000000-0000-0000-0000-00000000000{i}"
        rows.append(
            {
                "id": eid,
                "aggregateid": p["order_id"],
                "payload": __import__("json").dumps(p),
                "correlation_id": f"c-{i}",
            }
        )
        producer.produce(
            topic,
            key=p["order_id"].encode(),
            value=outbox_value(p),
            headers=list(outbox_headers(eid, "order.created", f"c-{i}")),
        )
    assert producer.flush(30) == 0

    breakers = {s: CircuitBreaker(s, failure_threshold=2, reset_seconds=1.0) for s in SERVICES}
    effects = HttpEffects(
        {s: services.url(s) for s in SERVICES if s != "order"}, breakers=breakers, timeout=2.0
    )
    store = PostgresStore(endpoints.dsn(fresh_database))
    store.ensure_schema(initial_stock())
    worker = kafka_worker(
        endpoints, store, FlowProcessor(effects), topic, group,
        batch_timeout=0.3, backoff_base=0.05, transient_attempts=2,
    )  # fmt: skip
    reader = PostgresStore(endpoints.dsn(fresh_database))
    dsn = endpoints.dsn(fresh_database)
    try:
        wait_until(lambda: (worker.step(), len(reader.outcomes()) == 3)[1], 60, "three outcomes")
        expected, _ = expected_outcomes(rows)
        assert {o.order_id: comparable(o) for o in reader.outcomes()} == expected
        with psycopg.connect(dsn) as conn:
            pays = dict(conn.execute("SELECT order_id, status FROM payments").fetchall())
            assert pays == {"as-ok": "captured", "as-declined": "declined"}, (
                "effects really happened"
            )
            stock = conn.execute(
                "SELECT on_hand FROM inventory_stock WHERE sku = 'SKU-0011'"
            ).fetchone()
            assert stock == (1_000_000,), (
                "the declined order's reservation was released by the service"
            )

        _kill(services, "payment")
        late = order_payload("as-late", [("SKU-0012", 1)], email="e4@example.com")
        producer.produce(
            topic,
            key=b"as-late",
            value=outbox_value(late),
            headers=list(
                outbox_headers("00000000-0000-0000-0000-000000000009", "order.created", "c-9")
            ),
        )
        assert producer.flush(30) == 0
        paused = []
        wait_until(
            lambda: bool(paused.extend(worker.step().paused) or paused),
            60,
            "the partition to pause",
        )
        assert breakers["payment"].state in ("open", "half_open")
        assert reader.outcomes(["as-late"]) == []

        start_services(services)  # brings the payment service back
        wait_until(
            lambda: (worker.step(), len(reader.outcomes(["as-late"])) == 1)[1],
            60,
            "as-late applied",
        )
        with psycopg.connect(dsn) as conn:
            n = conn.execute("SELECT count(*) FROM payments WHERE order_id = 'as-late'").fetchone()
        assert n == (1,), "charged exactly once"
    finally:
        worker.close()
        reader.close()
    assert topic_size_of(endpoints, f"{group}.dlq") == 0, "nothing was dead-lettered"
