"""The real adapters on the real stack: phase 2 (topics, Debezium outbox connector, canary,
broker gate) through a Runner, then rolled back; lag, schema and sync-call probes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine, create_engine, text

from cutover.state.init import upgrade
from cutover_common.topics import KafkaTopicAdmin, TopicSpecValue
from phases.adapters import SqlSyncCallCounter, build_ports
from phases.adapters_kafka import KafkaLagProbe, KafkaSchemaChecker, kafka_config
from phases.context import StepContext
from phases.plan import Plan, parse_plan
from phases.runner import Runner, StoreDrillLog
from phases.steps import default_graph
from phases.store import SqlModeStore, StateStore
from rehearsal.stack.endpoints import Endpoints

SAMPLE = Path(__file__).resolve().parents[3] / "phases" / "examples" / "sample-plan.yaml"
SAMPLE_CONTRACTS = SAMPLE.parents[2] / "legacy_app" / "contracts"

OUTBOX_DDL = """
CREATE TABLE outbox (id uuid PRIMARY KEY, aggregatetype varchar(255) NOT NULL,
  aggregateid varchar(255) NOT NULL, type varchar(255) NOT NULL, payload jsonb NOT NULL,
  correlation_id varchar(255), causation_id varchar(255),
  created_at timestamptz NOT NULL DEFAULT now())
"""


def real_plan(endpoints: Endpoints, unique: str) -> Plan:
    data: dict[str, Any] = yaml.safe_load(SAMPLE.read_text())
    prefix = f"t{unique}.event"
    data["system"]["kafka"] = {
        "bootstrap_servers": endpoints.bootstrap_servers,
        "topic_prefix": prefix,
    }
    data["system"]["connect"] = {
        "url": endpoints.connect_url,
        "connector_name": f"t-{unique}",
        "slot_name": f"t_{unique}",
        "heartbeat_interval_ms": 1000,
    }
    for name, ctx in data["contexts"].items():
        ctx["topic"] = {"name": f"{prefix}.{name}", "partitions": 2, "retention_ms": 3600000}
        ctx["consumer_group"] = f"t-{unique}-{name}"
    data["contracts"] = {"dir": str(SAMPLE_CONTRACTS)}
    return parse_plan(data)


@pytest.fixture
def legacy(endpoints: Endpoints, fresh_database: str) -> Iterator[tuple[str, Engine]]:
    url = endpoints.database_url(fresh_database)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(OUTBOX_DDL))
    upgrade(engine)  # `cutover init`: the blocked-calls table among cutover's own
    yield url, engine
    engine.dispose()


@pytest.fixture
def cleanup(endpoints: Endpoints, unique: str) -> Iterator[None]:
    yield
    from confluent_kafka.admin import AdminClient

    from cdc.client import ConnectClient

    client = ConnectClient.from_url(endpoints.connect_url)
    if f"t-{unique}" in client.list_connectors():
        client.delete_connector(f"t-{unique}")
    admin = AdminClient({"bootstrap.servers": endpoints.bootstrap_servers})
    mine = [
        t
        for t in admin.list_topics(timeout=10).topics
        if t.startswith(f"t{unique}.") or t.startswith(f"t-{unique}")
    ]
    if mine:
        for future in admin.delete_topics(mine, operation_timeout=30).values():
            future.result()


def wait_heartbeat(engine: Engine, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            exists = conn.execute(text("SELECT to_regclass('public.debezium_heartbeat')")).scalar()
            if exists and conn.execute(text("SELECT count(*) FROM debezium_heartbeat")).scalar():
                return
        time.sleep(0.5)
    raise AssertionError("no heartbeat row written by the connector")


def test_phase_2_on_the_real_stack_then_rollback(
    endpoints: Endpoints, unique: str, legacy: tuple[str, Engine], tmp_path: Path, cleanup: None
) -> None:
    url, engine = legacy
    plan = real_plan(endpoints, unique)
    env = {"LEGACY_DATABASE_URL": url}
    store = StateStore(engine)
    store.initialise()
    ports = build_ports(plan, SqlModeStore(engine), env)
    ctx = StepContext(plan=plan, ports=ports, actor="it@test", drills=StoreDrillLog(store, "it"))
    runner = Runner(store=store, ctx=ctx, graph=default_graph(), reports_dir=tmp_path / "r")

    outcome = runner.advance(target=2)
    assert (outcome.status, outcome.phase) == ("done", 2)
    topics = ports.topics.existing_topics()
    assert {f"t{unique}.event.{c}" for c in plan.contexts} <= topics
    assert f"t{unique}.event.cutover_canary" in topics

    wait_heartbeat(engine)
    gate = runner.check_gate()
    assert gate.gate is not None
    checks = {c.name: c for c in gate.gate.checks}
    assert checks["connector_running"].observed == "RUNNING"
    assert checks["tasks_running"].verdict.value == "pass", checks["tasks_running"].detail
    assert checks["slot_active"].observed is True
    assert checks["heartbeat_fresh"].verdict.value == "pass", checks["heartbeat_fresh"].observed
    assert checks["canary_round_trip"].verdict.value == "pass", checks["canary_round_trip"].detail
    assert gate.exit_code == 0

    back = runner.rollback()
    assert back.phase == 1
    from cdc.client import ConnectClient

    assert f"t-{unique}" not in ConnectClient.from_url(endpoints.connect_url).list_connectors()


def test_lag_schema_and_sync_call_probes(
    endpoints: Endpoints, unique: str, legacy: tuple[str, Engine], cleanup: None
) -> None:
    from confluent_kafka import Producer

    _url, engine = legacy
    plan = real_plan(endpoints, unique)
    conf = kafka_config(plan, {})
    KafkaTopicAdmin(conf).ensure_topics([TopicSpecValue(plan.contexts["payment"].topic.name, 2)])
    producer = Producer(conf)
    topic = plan.contexts["payment"].topic.name
    producer.produce(
        topic, key=b"o1", value=b'{"order_id": "o1"}', headers=[("type", b"payment.completed")]
    )
    producer.produce(topic, key=b"o2", value=b"not json", headers=[("type", b"payment.exploded")])
    producer.flush(10)

    lag = KafkaLagProbe(plan, conf).lag("payment")
    assert (lag.group, lag.lag_messages, lag.dead_lettered) == (f"t-{unique}-payment", 2, 0)

    report = KafkaSchemaChecker(plan, conf).check("payment", plan.contexts["payment"].events)
    assert report.compatible is False
    assert "event type 'payment.exploded' is not declared for payment" in report.reasons
    assert "payment.exploded payload is not a JSON object" in report.reasons
    assert any(r.startswith("payment.completed v1: ") and "required" in r for r in report.reasons)

    shipping = plan.contexts["shipping"].topic.name
    KafkaTopicAdmin(conf).ensure_topics([TopicSpecValue(shipping, 1)])
    producer.produce(
        shipping,
        key=b"o1",
        headers=[("type", b"shipment.created")],
        value=b'{"order_id": "o1", "carrier": "express", "status": "created"}',
    )
    producer.flush(10)
    good = KafkaSchemaChecker(plan, conf).check("shipping", plan.contexts["shipping"].events)
    assert (good.compatible, good.reasons) == (True, ())

    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO cutover.blocked_calls (context, operation) VALUES ('payment', 'x')")
        )
    counter = SqlSyncCallCounter(engine)
    since = datetime.now(UTC) - timedelta(minutes=5)
    assert counter.count("payment", since) == 1
    assert counter.count("email", since) == 0


def test_shadow_pipeline_check_needs_active_consumers(
    endpoints: Endpoints, unique: str, cleanup: None
) -> None:
    from confluent_kafka import Consumer

    from phases.adapters import ShadowGroupPipeline
    from phases.errors import StepFailed

    plan = real_plan(endpoints, unique)
    conf = kafka_config(plan, {})
    pipeline = ShadowGroupPipeline(plan, conf, wait_s=2)
    with pytest.raises(StepFailed, match=f"no active shadow consumers in t-{unique}-payment"):
        pipeline.start(["payment"])
    topic = plan.contexts["payment"].topic.name
    KafkaTopicAdmin(conf).ensure_topics([TopicSpecValue(topic, 2)])
    consumer = Consumer({**conf, "group.id": f"t-{unique}-payment"})
    consumer.subscribe([topic])
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and pipeline.members(f"t-{unique}-payment") == 0:
            consumer.poll(0.5)
        pipeline.wait_s = 10
        pipeline.start(["payment"])
        assert pipeline.members(f"t-{unique}-payment") == 1
    finally:
        consumer.close()
