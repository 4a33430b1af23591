"""End-to-end smoke check of the stack: outbox row → Debezium → Outbox Event Router → Kafka.

Creates the default outbox table (``cdc.outbox_table``'s DDL) in a scratch database,
registers a Debezium Postgres connector with the Outbox Event Router over Connect's REST
API, writes one row with ``cutover.emit`` and consumes the routed event. Everything it creates is
removed afterwards.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
from confluent_kafka import Consumer

import cutover
from cdc.debezium import (
    DatabaseOptions,
    PostgresConnectorOptions,
    build_postgres_config,
)
from cdc.outbox_table import OutboxLayout, create_table_ddl
from cdc.topics import connector_topics, routed_topic
from cutover_common.topics import KafkaTopicAdmin, TopicSpecValue
from rehearsal.errors import RehearsalError
from rehearsal.stack.endpoints import Endpoints
from rehearsal.stack.pgadmin import create_database, drop_database

LAYOUT = OutboxLayout()
"""The smoke check's outbox: the plan's default ``outbox:`` block (``public.outbox``)."""


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


def outbox_connector_options(
    endpoints: Endpoints, database: str, name: str, prefix: str
) -> PostgresConnectorOptions:
    """The Debezium outbox connector of the smoke check (``cdc``'s builder, no heartbeat)."""
    return PostgresConnectorOptions(
        database=DatabaseOptions(
            endpoints.host,
            endpoints.pg_port,
            endpoints.pg_user,
            database,
            endpoints.connector_password,  # the worker resolves it: Connect never holds it
        ),
        topic_prefix=prefix,
        slot_name=f"slot_{name}",
        publication_name=f"pub_{name}",
        outbox=LAYOUT.connector_options(prefix),
        heartbeat=None,
    )


@contextmanager
def _scratch_database(endpoints: Endpoints, name: str) -> Iterator[None]:
    create_database(endpoints, name)
    try:
        yield
    finally:
        drop_database(endpoints, name)


@contextmanager
def _connector(
    endpoints: Endpoints, name: str, options: PostgresConnectorOptions
) -> Iterator[None]:
    client = endpoints.connect_client()
    config = build_postgres_config(options)
    _ensure_topics(endpoints, config)
    client.create_connector(name, config)
    try:
        client.wait_for(name, "RUNNING", timeout_s=60)
        yield
    finally:
        client.delete_connector(name)


def _ensure_topics(endpoints: Endpoints, config: Mapping[str, object]) -> None:
    """The connector's topics and the routed ``order`` topic: brokers create none on use."""
    names = [*connector_topics(config), routed_topic(config, "order")]
    admin = KafkaTopicAdmin({"bootstrap.servers": endpoints.bootstrap_servers})
    admin.ensure_topics([TopicSpecValue(n, 1) for n in names if n])


def run_smoke(endpoints: Endpoints, timeout: float = 60.0) -> SmokeResult:
    """Write one outbox row and return the routed Kafka record."""
    t0 = time.monotonic()
    tag = uuid.uuid4().hex[:10]
    database, name, prefix = f"smoke_{tag}", f"smoke_{tag}", f"smoke{tag}"
    order_id = f"order-{tag}"
    payload = {"order_id": order_id, "total": "42.50"}
    with _scratch_database(endpoints, database):
        with psycopg.connect(endpoints.dsn(database), autocommit=True) as conn:
            for statement in create_table_ddl(LAYOUT):
                conn.execute(statement.encode())
        with _connector(
            endpoints, name, outbox_connector_options(endpoints, database, name, prefix)
        ):
            with psycopg.connect(endpoints.dsn(database)) as conn, conn.transaction():
                cutover.emit(
                    conn,
                    "order",
                    order_id,
                    "order.created",
                    payload,
                    correlation_id=f"corr-{tag}",
                    causation_id=f"cause-{tag}",
                    outbox=cutover.Outbox(LAYOUT),
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
