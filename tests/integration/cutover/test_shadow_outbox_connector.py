"""The shadow outbox the plan declares, on the real stack: a plan with ``shadow_outbox:`` on a
fresh database, its connector applied by the phases adapter (as ``cutover advance`` does
entering phase 3), a handler written here emitting follow-up events with ``tx.emit`` under
the real runtime on a real topic; the follow-ups reach Kafka on ``<topic_prefix>.<aggregate
type>`` with cutover's headers, and ``cutover outbox purge --shadow`` deletes exactly the
captured rows by the shadow outbox's own slot."""

from __future__ import annotations

import io
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest
import yaml
from confluent_kafka import Producer

from cdc.client import ConnectClient
from cutover.commands import OutboxCommandConfig, outbox_purge
from cutover.shadow import Event, Handle, ShadowApp, WorkerContext
from phases.adapters import CdcConnectorAdmin
from phases.errors import StepFailed
from phases.outbox_connectors import shadow_outbox_connector
from phases.plan import Plan, load_plan
from phases.plan_topics import plan_topics
from rehearsal.stack.endpoints import Endpoints
from shadow.app import handler_consumer
from tests.integration.cutover.outbox_stack import URL_ENV, write_plan
from tests.integration.shadow.conftest import kafka_worker, read_topic
from tests.integration.topics import ensure_topics

pytestmark = pytest.mark.integration

EVENTS = 3

app = ShadowApp("followups")


@app.handler("article.published")
def published(event: Event, tx: Handle) -> None:
    tx.emit(
        "author.notified",
        {"article_id": event.key},
        aggregate_type="author",
        aggregate_id=str(event.payload["author"]),
    )


@pytest.fixture
def plan(endpoints: Endpoints, unique: str, tmp_path: Path) -> Plan:
    path = tmp_path / "plan.yaml"
    write_plan(path, endpoints, unique)
    data: dict[str, Any] = yaml.safe_load(path.read_text())
    data["shadow_outbox"] = {
        "connector_name": f"so-it-{unique}",
        "slot_name": f"so_it_{unique}",
        "topic_prefix": f"so{unique}",
    }
    path.write_text(yaml.safe_dump(data))
    return load_plan(path)


@pytest.fixture
def admin(plan: Plan, endpoints: Endpoints, fresh_database: str) -> Iterator[CdcConnectorAdmin]:
    """The shadow store's tables (its workers create them), then the shadow outbox's
    connector applied as phase 3 applies it; deleted after."""
    connector = shadow_outbox_connector(plan)
    assert connector is not None
    built = handler_consumer(app, WorkerContext(endpoints.dsn(fresh_database), "shadow", "dual"))
    built.store.ensure_schema()
    author = f"{connector.topic_prefix}.author"  # the follow-ups' topic: not in the plan
    ensure_topics(endpoints.bootstrap_servers, {t.spec.name: 1 for t in plan_topics(plan)})
    ensure_topics(endpoints.bootstrap_servers, {author: 1})
    admin = CdcConnectorAdmin(plan, {}, endpoints.database_url(fresh_database), connector)
    admin.apply_outbox_connector()
    try:
        yield admin
    finally:
        admin.delete_connector()  # as leaving phase 3 does (the slot goes with the database)


def produce_published(endpoints: Endpoints, topic: str, unique: str) -> list[str]:
    """``EVENTS`` routed ``article.published`` events, as the application's connector routes
    them (key = article, headers id/type/mode/correlation_id); their ids."""
    producer = Producer({"bootstrap.servers": endpoints.bootstrap_servers})
    ids = []
    for i in range(EVENTS):
        event_id = str(uuid.uuid4())
        ids.append(event_id)
        headers: list[tuple[str, str | bytes | None]] = [
            ("id", event_id.encode()),
            ("type", b"article.published"),
            ("mode", b"dual"),
            ("correlation_id", f"corr-{unique}-{i}".encode()),
        ]
        value = orjson.dumps({"author": f"author-{i}"})
        producer.produce(topic, value, f"article-{i}".encode(), headers=headers)
    assert producer.flush(30) == 0
    return ids


def shadow_outbox_ids(dsn: str) -> set[str]:
    with psycopg.connect(dsn) as conn:
        return {str(r[0]) for r in conn.execute("SELECT id FROM shadow.outbox").fetchall()}


def run_handlers(endpoints: Endpoints, dsn: str, topic: str, unique: str) -> None:
    """The handler consumer under the real runtime until every follow-up is committed."""
    group = f"so-it-{unique}"
    ensure_topics(endpoints.bootstrap_servers, {f"{group}.dlq": 1})
    built = handler_consumer(app, WorkerContext(dsn, "shadow", "dual"))
    worker = kafka_worker(endpoints, built.store, built.processor, topic, group)
    deadline = time.monotonic() + 30
    worker.run(lambda: len(shadow_outbox_ids(dsn)) >= EVENTS or time.monotonic() > deadline)


def purge(plan_path: Path, url: str, *, dry_run: bool = False) -> tuple[int, dict[str, Any]]:
    """``cutover outbox purge --shadow --older-than 1s --json``."""
    out = io.StringIO()
    environ = {URL_ENV: url}
    config = OutboxCommandConfig(plan_path, json=True, stdout=out, environ=environ)
    code = outbox_purge(config, "1s", dry_run=dry_run, wait_s=20, shadow=True)
    return code, json.loads(out.getvalue())


def test_follow_up_events_reach_kafka_through_the_plans_shadow_outbox_and_are_purged(
    plan: Plan,
    admin: CdcConnectorAdmin,
    endpoints: Endpoints,
    fresh_database: str,
    unique: str,
    tmp_path: Path,
) -> None:
    dsn = endpoints.dsn(fresh_database)
    topic = f"in{unique}.article"
    ensure_topics(endpoints.bootstrap_servers, {topic: 1})
    causes = produce_published(endpoints, topic, unique)

    run_handlers(endpoints, dsn, topic, unique)
    emitted = shadow_outbox_ids(dsn)
    assert len(emitted) == EVENTS

    records = read_topic(endpoints, f"so{unique}.author", EVENTS, timeout=30)
    headers = [{k: v.decode() for k, v in m.headers() or []} for m in records]
    assert {h["id"] for h in headers} == emitted
    assert sorted((h["type"], h["mode"]) for h in headers) == [("author.notified", "dual")] * 3
    assert sorted(h["causation_id"] for h in headers) == sorted(causes)
    assert {h["correlation_id"] for h in headers} == {f"corr-{unique}-{i}" for i in range(3)}
    assert sorted(m.key().decode() for m in records) == [f"author-{i}" for i in range(EVENTS)]

    time.sleep(1.1)  # the purge takes rows older than 1s (its shortest duration)
    plan_path, url = tmp_path / "plan.yaml", endpoints.database_url(fresh_database)
    code, counted = purge(plan_path, url, dry_run=True)
    assert (code, counted["candidates"], counted["purged"]) == (0, EVENTS, 0)
    code, done = purge(plan_path, url)

    assert (code, done["table"], done["slot"]) == (0, "shadow.outbox", f"so_it_{unique}")
    assert (done["candidates"], done["purged"]) == (EVENTS, EVENTS)
    assert shadow_outbox_ids(dsn) == set()
    state = ConnectClient.from_url(plan.system.connect.url).status(admin.name)
    assert (state.state, [t.state for t in state.tasks]) == ("RUNNING", ["RUNNING"])


def test_applying_before_the_shadow_store_exists_names_the_table_and_registers_nothing(
    plan: Plan, endpoints: Endpoints, fresh_database: str
) -> None:
    connector = shadow_outbox_connector(plan)
    assert connector is not None
    admin = CdcConnectorAdmin(plan, {}, endpoints.database_url(fresh_database), connector)

    with pytest.raises(StepFailed, match=r"shadow_outbox\.table shadow\.outbox does not exist"):
        admin.apply_outbox_connector()

    assert admin.name not in ConnectClient.from_url(plan.system.connect.url).list_connectors()
