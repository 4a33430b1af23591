"""A broker restart during consumption: the worker rides it out, nothing lost, nothing twice.

DISRUPTIVE: it restarts the shared Kafka broker through ``rehearsal.stack.manager``, so the
lead runs it alone, after the other integration tests (it is never skipped).
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
from pathlib import Path

import psycopg
from confluent_kafka import Producer

from legacy_app.orderflow.catalogue import initial_stock
from legacy_app.orderflow.samples import order_payload, outbox_headers, outbox_value
from rehearsal.stack import manager
from rehearsal.stack.endpoints import Endpoints
from rehearsal.stack.topology import Topology
from tests.integration.shadow.conftest import REPO, committed_total, wait_until
from tests.integration.topics import ensure_topics

N_BEFORE = 3000
N_AFTER = 1000


def _produce(endpoints: Endpoints, topic: str, payloads: list[dict]) -> None:
    producer = Producer(
        {"bootstrap.servers": endpoints.bootstrap_servers, "enable.idempotence": True}
    )
    for p in payloads:
        producer.produce(
            topic,
            key=p["order_id"].encode(),
            value=outbox_value(p),
            headers=list(outbox_headers(f"ev-{p['order_id']}", "order.created", "c")),
        )
        producer.poll(0)
    assert producer.flush(60) == 0


def _count(dsn: str, sql: str) -> int:
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            row = conn.execute(sql).fetchone()
            return int(row[0]) if row else 0
    except psycopg.errors.UndefinedTable:
        return 0


def test_worker_survives_a_broker_restart_without_loss_or_duplicate_effects(
    endpoints: Endpoints, topology: Topology, fresh_database: str, unique: str, tmp_path: Path
) -> None:
    topic, group = f"shadow-restart-{unique}.order", f"shadow-restart-{unique}"
    ensure_topics(endpoints.bootstrap_servers, {topic: 3})
    rng = random.Random(3)
    payloads = [
        order_payload(f"br-{i:05d}", [(f"SKU-{rng.randint(1, 50):04d}", 1)])
        for i in range(N_BEFORE + N_AFTER)
    ]
    _produce(endpoints, topic, payloads[:N_BEFORE])
    dsn = endpoints.dsn(fresh_database)
    env = {
        "CUTOVER_SHADOW_DSN": dsn,
        "CUTOVER_SHADOW_BOOTSTRAP": endpoints.bootstrap_servers,
        "CUTOVER_SHADOW_GROUP": group,
        "CUTOVER_SHADOW_TOPICS": topic,
    }
    log = open(tmp_path / "worker.log", "ab")  # noqa: SIM115
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "shadow",
            "run",
            "--app",
            "legacy_app.orderflow.app:app",
            "--consumer",
            "flow",
            "--batch-size",
            "100",
        ],
        cwd=REPO,
        env={**__import__("os").environ, **env},
        stdout=log,
        stderr=log,
    )
    try:
        processed = "SELECT count(*) FROM shadow.processed_events"
        wait_until(lambda: _count(dsn, processed) >= 300, 120, "the worker to start consuming")
        report = manager.restart(topology, "kafka")
        assert report.healthy, report.to_dict()
        assert worker.poll() is None, "the worker survived the broker restart"
        _produce(endpoints, topic, payloads[N_BEFORE:])
        wait_until(
            lambda: _count(dsn, processed) >= N_BEFORE + N_AFTER, 240, "every event processed"
        )
        wait_until(
            lambda: committed_total(endpoints, group, topic) >= N_BEFORE + N_AFTER,
            60,
            "offsets committed",
        )
    finally:
        worker.send_signal(signal.SIGTERM)
        code = worker.wait(60)
        log.close()
    assert code == 0, (tmp_path / "worker.log").read_text()[-3000:]
    assert _count(
        dsn, "SELECT count(*) FROM shadow.order_status WHERE status = 'completed'"
    ) == len(payloads)
    assert _count(dsn, "SELECT count(*) FROM shadow.payments") == len(payloads)
    taken = sum(initial_stock()[f"SKU-{n:04d}"] for n in range(1, 51)) - _count(
        dsn, "SELECT sum(available) FROM shadow.stock WHERE sku NOT LIKE 'SKU-OOS-%'"
    )
    assert taken == len(payloads), "each reservation applied exactly once"
