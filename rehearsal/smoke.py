"""End-to-end smoke check of the stack: outbox row → Debezium → Outbox Event Router → Kafka.

Creates an ``outbox`` table in a scratch database, registers a Debezium
Postgres connector with the Outbox Event Router over Connect's REST API,
inserts one row and consumes the routed event. Everything it creates is
removed afterwards.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
import requests
from confluent_kafka import Consumer

from rehearsal.errors import RehearsalError
from rehearsal.stack.endpoints import Endpoints
from rehearsal.stack.pgadmin import create_database, drop_database

OUTBOX_DDL = """
CREATE TABLE IF NOT EXISTS outbox (
    id             uuid PRIMARY KEY,
    aggregatetype  varchar(255) NOT NULL,
    aggregateid    varchar(255) NOT NULL,
    type           varchar(255) NOT NULL,
    payload        jsonb NOT NULL,
    correlation_id varchar(255),
    causation_id   varchar(255),
    created_at     timestamptz NOT NULL DEFAULT now()
)
"""


class SmokeError(RehearsalError):
    """Raised when the smoke round trip does not complete."""


@dataclass(frozen=True, slots=True)
class SmokeResult:
    """What came out of Kafka for the row the smoke check wrote."""

    topic: str
    key: str
    payload: dict[str, object]
    headers: dict[str, str]
    event_id: str
    seconds: float


def outbox_connector_config(
    endpoints: Endpoints, database: str, name: str, prefix: str
) -> dict[str, str]:
    """Minimal Debezium outbox connector config for the smoke check."""
    return {
        "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
        "tasks.max": "1",
        "database.hostname": endpoints.host,
        "database.port": str(endpoints.pg_port),
        "database.user": endpoints.pg_user,
        "database.password": endpoints.pg_password.reveal(),
        "database.dbname": database,
        "topic.prefix": prefix,
        "plugin.name": "pgoutput",
        "slot.name": f"slot_{name}",
        "publication.name": f"pub_{name}",
        "publication.autocreate.mode": "filtered",
        "table.include.list": "public.outbox",
        "snapshot.mode": "no_data",
        "tombstones.on.delete": "false",
        "key.converter": "org.apache.kafka.connect.storage.StringConverter",
        "value.converter": "org.apache.kafka.connect.storage.StringConverter",
        "transforms": "outbox",
        "transforms.outbox.type": "io.debezium.transforms.outbox.EventRouter",
        "transforms.outbox.table.field.event.id": "id",
        "transforms.outbox.table.field.event.key": "aggregateid",
        "transforms.outbox.table.field.event.payload": "payload",
        "transforms.outbox.route.by.field": "aggregatetype",
        "transforms.outbox.route.topic.replacement": f"{prefix}.${{routedByValue}}",
        "transforms.outbox.table.fields.additional.placement": (
            "type:header:type,correlation_id:header:correlation_id,causation_id:header:causation_id"
        ),
    }


@contextmanager
def _scratch_database(endpoints: Endpoints, name: str) -> Iterator[None]:
    create_database(endpoints, name)
    try:
        yield
    finally:
        drop_database(endpoints, name)


@contextmanager
def _connector(endpoints: Endpoints, name: str, config: dict[str, str]) -> Iterator[None]:
    url = f"{endpoints.connect_url}/connectors/{name}"
    resp = requests.put(f"{url}/config", json=config, timeout=30)
    if not resp.ok:
        raise SmokeError(
            f"creating connector {name} failed: HTTP {resp.status_code} {resp.text[:300]}"
        )
    try:
        _wait_running(url, timeout=60)
        yield
    finally:
        requests.delete(url, timeout=30)


def _wait_running(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        resp = requests.get(f"{url}/status", timeout=10)
        if resp.ok:
            last = resp.json()
            tasks = last.get("tasks", []) if isinstance(last, dict) else []
            if (
                last["connector"]["state"] == "RUNNING"
                and tasks
                and all(t["state"] == "RUNNING" for t in tasks)
            ):
                return
        time.sleep(0.5)
    raise SmokeError(
        f"connector did not reach RUNNING with all tasks RUNNING in {timeout}s: {last}"
    )


def run_smoke(endpoints: Endpoints, timeout: float = 60.0) -> SmokeResult:
    """Write one outbox row and return the routed Kafka record."""
    t0 = time.monotonic()
    tag = uuid.uuid4().hex[:10]
    database, name, prefix = f"smoke_{tag}", f"smoke_{tag}", f"smoke{tag}"
    event_id, order_id = str(uuid.uuid4()), f"order-{tag}"
    payload = {"order_id": order_id, "total": "42.50"}
    with _scratch_database(endpoints, database):
        with psycopg.connect(endpoints.dsn(database), autocommit=True) as conn:
            conn.execute(OUTBOX_DDL)
        with _connector(
            endpoints, name, outbox_connector_config(endpoints, database, name, prefix)
        ):
            with psycopg.connect(endpoints.dsn(database), autocommit=True) as conn:
                conn.execute(
                    "insert into outbox (id, aggregatetype, aggregateid, type, payload, correlation_id,"
                    " causation_id) values (%s, 'order', %s, 'order.created', %s, %s, %s)",
                    (event_id, order_id, json.dumps(payload), f"corr-{tag}", f"cause-{tag}"),
                )
            result = _consume_one(endpoints, f"{prefix}.order", timeout)
    return SmokeResult(*result, seconds=time.monotonic() - t0)


def _consume_one(
    endpoints: Endpoints, topic: str, timeout: float
) -> tuple[str, str, dict[str, object], dict[str, str], str]:
    consumer = Consumer(
        {
            "bootstrap.servers": endpoints.bootstrap_servers,
            "group.id": f"smoke-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "topic.metadata.refresh.interval.ms": 1000,
        }
    )
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = consumer.poll(1.0)
            if msg is None or msg.error():
                continue
            raw = msg.headers() or []
            pairs = raw.items() if isinstance(raw, dict) else raw
            headers = {str(k): _text(v) for k, v in pairs}
            key = _text(msg.key())
            value = json.loads(msg.value() or b"null")
            return msg.topic() or topic, key, value, headers, headers.get("id", "")
    finally:
        consumer.close()
    raise SmokeError(f"no event arrived on {topic} within {timeout}s")


def _text(value: str | bytes | None) -> str:
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else value
