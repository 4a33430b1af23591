"""The database password never reaches Kafka Connect: connectors name it by a config provider
reference (``${env:CUTOVER_PG_PASSWORD}``) that the local stack's worker resolves from its own
environment. Neither the REST API nor the worker's config topic holds the password, and the
connector still runs and captures a row.
"""

from __future__ import annotations

import json
import time
import uuid

import psycopg
import pytest
from confluent_kafka import Consumer, TopicPartition

import cutover
from cdc.debezium import build_postgres_config
from cdc.outbox_table import create_table_ddl
from rehearsal.smoke import LAYOUT, _consume_one, outbox_connector_options
from rehearsal.stack.endpoints import Endpoints
from rehearsal.stack.topology import Topology
from tests.integration.topics import ensure_topics

pytestmark = pytest.mark.integration


def _end_offsets(endpoints: Endpoints, topic: str) -> dict[int, int]:
    consumer = Consumer({"bootstrap.servers": endpoints.bootstrap_servers, "group.id": "unused"})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        return {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                for p in partitions}  # fmt: skip
    finally:
        consumer.close()


def _records_since(endpoints: Endpoints, topic: str, start: dict[int, int]) -> list[bytes]:
    """Every record (key and value) of ``topic`` from ``start`` to its current end."""
    end = _end_offsets(endpoints, topic)
    consumer = Consumer(
        {
            "bootstrap.servers": endpoints.bootstrap_servers,
            "group.id": f"cfg-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "isolation.level": "read_uncommitted",
        }
    )
    out: list[bytes] = []
    assigned = [TopicPartition(topic, p, start.get(p, 0)) for p in end]
    try:
        consumer.assign(assigned)
        # the worker writes it in transactions: the last offsets may be commit markers, which
        # are never delivered, so read until the consumer's position reaches the end
        deadline = time.monotonic() + 30
        while any(tp.offset < end[tp.partition] for tp in consumer.position(assigned)):
            assert time.monotonic() < deadline, f"{topic} not read up to {end} in 30s"
            msg = consumer.poll(1.0)
            if msg is not None and not msg.error():
                out.append((msg.key() or b"") + b"\x00" + (msg.value() or b""))
    finally:
        consumer.close()
    return out


def test_connect_holds_a_reference_never_the_password(
    endpoints: Endpoints, topology: Topology, fresh_database: str
) -> None:
    tag = uuid.uuid4().hex[:10]
    name, prefix = f"secret_it_{tag}", f"secretit{tag}"
    password = endpoints.pg_password.reveal()
    config_topic = topology.connect.worker_settings()["config.storage.topic"]
    with psycopg.connect(endpoints.dsn(fresh_database), autocommit=True) as conn:
        for statement in create_table_ddl(LAYOUT):
            conn.execute(statement.encode())
    ensure_topics(endpoints.bootstrap_servers, {f"{prefix}.order": 1})
    before = _end_offsets(endpoints, config_topic)
    config = build_postgres_config(
        outbox_connector_options(endpoints, fresh_database, name, prefix)
    )
    client = endpoints.connect_client()
    client.create_connector(name, config)
    try:
        client.wait_for(name, "RUNNING", timeout_s=60)
        with psycopg.connect(endpoints.dsn(fresh_database)) as conn, conn.transaction():
            cutover.emit(conn, "order", f"o-{tag}", "order.created", {"n": 1},
                         outbox=cutover.Outbox(LAYOUT))  # fmt: skip
        _, key, payload, _, _ = _consume_one(endpoints, f"{prefix}.order", 60)
        live = client.get_config(name)
        records = _records_since(endpoints, config_topic, before)
    finally:
        client.delete_connector(name)

    assert (key, payload) == (f"o-{tag}", {"n": 1})  # captured through the reference
    assert live["database.password"] == "${env:CUTOVER_PG_PASSWORD}"
    assert password not in json.dumps(live)
    mine = [r for r in records if name.encode() in r]
    assert len(mine) >= 2  # the connector's config and its task's config at least
    assert all(b"${env:CUTOVER_PG_PASSWORD}" in r for r in mine if b"database.password" in r)
    assert not [r for r in records if password.encode() in r]
