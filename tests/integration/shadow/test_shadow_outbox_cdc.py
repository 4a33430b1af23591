"""The shadow store's own outbox, captured by Debezium like the legacy one: the follow-up events
a shadow handler emits reach Kafka from the outbox rows committed with its effects — keyed by
order, with the root's correlation id and a causation chain back to the root event — and
never from a produce after a commit."""

from __future__ import annotations

import contextlib
import time

import psycopg
import pytest

from cdc.client import ConnectClient
from cdc.debezium import OutboxOptions, build_postgres_config
from cdc.errors import ConnectorNotFound
from legacy_app.orderflow.catalogue import initial_stock
from legacy_app.orderflow.effects import RecordingEffects
from legacy_app.orderflow.processors import FlowProcessor
from legacy_app.orderflow.samples import INSERT_OUTBOX, order_payload, outbox_row
from legacy_app.orderflow.store_pg import PostgresStore
from rehearsal.stack.endpoints import Endpoints
from tests.integration.shadow.conftest import (
    Pipeline,
    connector_options,
    kafka_worker,
    read_topic,
)
from tests.integration.topics import ensure_connector_topics

pytestmark = pytest.mark.integration


def _follow_up_connector(endpoints: Endpoints, database: str, unique: str, prefix: str) -> str:
    name = f"shadow-itest-{unique}-followups"
    outbox = OutboxOptions(
        table="shadow.outbox",
        topic_prefix=prefix,
        header_fields=("type", "correlation_id", "causation_id"),
    )
    opts = connector_options(endpoints, database, f"shadow_itest_{unique}_f", outbox, None)
    client = ConnectClient.from_url(endpoints.connect_url)
    config = build_postgres_config(opts)
    ensure_connector_topics(endpoints.bootstrap_servers, config)  # the follow-ups' order topic
    client.create_connector(name, config)
    client.wait_for(name, "RUNNING", timeout_s=90)
    return name


def test_follow_up_events_reach_kafka_through_the_shadow_outbox(
    pipeline: Pipeline, endpoints: Endpoints, unique: str
) -> None:
    store = PostgresStore(pipeline.dsn)
    store.ensure_schema(initial_stock())  # the connector's publication needs shadow.outbox
    prefix = f"it{unique}.shadow"
    name = _follow_up_connector(endpoints, pipeline.database, unique, prefix)
    try:
        root = outbox_row(
            order_payload(f"it-{unique}", [("SKU-0001", 2)]), correlation_id=f"corr-{unique}"
        )
        with psycopg.connect(pipeline.dsn) as conn:
            conn.execute(INSERT_OUTBOX, root)
        worker = kafka_worker(
            endpoints, store, FlowProcessor(RecordingEffects()), pipeline.topic, pipeline.group
        )
        try:
            deadline = time.monotonic() + 60
            while pipeline.processed() < 1 and time.monotonic() < deadline:
                worker.step()
        finally:
            worker.close()
        emitted = pipeline.scalar("SELECT count(*) FROM shadow.outbox")
        assert emitted == 5  # reserved, paid, shipped, notified, completed

        records = read_topic(endpoints, f"{prefix}.order", emitted)
    finally:
        with contextlib.suppress(ConnectorNotFound):
            ConnectClient.from_url(endpoints.connect_url).delete_connector(name)
        store.close()

    headers = [{k: (v or b"").decode() for k, v in m.headers()} for m in records]
    assert len(records) == 5
    assert {m.key().decode() for m in records} == {f"it-{unique}"}
    assert {h["correlation_id"] for h in headers} == {root["correlation_id"]}
    types = [h["type"] for h in headers]
    assert "order.completed" in types and len(set(types)) == 5
    ids = {h["id"] for h in headers}
    for h in headers:  # each follow-up was caused by the root or by an earlier follow-up
        assert h["causation_id"] == root["id"] or h["causation_id"] in ids
