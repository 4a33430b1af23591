"""Gates on the real stack never pass, or revert, on what they could not measure.

One world per module: a scratch database with the outcome tables of one context
(``order``), a real Debezium outbox connector on it, the context's topic and a runner in
phase 3 (dual-write). Then:

- Kafka Connect frozen (SIGSTOP, for as long as the gate takes; SIGCONT in a finally) ->
  the connector and task checks are unknown, the gate inconclusive, nothing reverted and
  nothing reported missing;
- no live consumer in the shadow group -> ``consumers_live`` fails, the gate pauses;
- the legacy table's column renamed -> ``cutover gate check`` fails with the database's
  one-line message (exit 4), its evidence bundle written, no traceback.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import signal
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine, create_engine, text, update

from cutover.state.models import ContextModeRow
from cutover_common.modes import Mode
from cutover_common.topics import KafkaTopicAdmin
from phases import commands
from phases.adapters import CdcConnectorAdmin, CdcHealthProbe, build_ports
from phases.adapters_kafka import kafka_config
from phases.commands import CommandConfig
from phases.context import StepContext
from phases.fakes import fake_ports
from phases.plan import Plan, parse_plan
from phases.plan_topics import plan_topics
from phases.runner import Runner, StoreDrillLog
from phases.steps import default_graph
from phases.store import SqlModeStore, StateStore
from rehearsal.stack import kafka as stack_kafka
from rehearsal.stack.endpoints import Endpoints
from rehearsal.stack.pgadmin import create_database, drop_database
from rehearsal.stack.topology import Topology

SAMPLE = Path(__file__).resolve().parents[3] / "phases" / "examples" / "sample-plan.yaml"
ORDERS = 500
CONNECT_TIMEOUT_S = 3.0
OUTCOME_DDL = (
    """CREATE TABLE outbox (id uuid PRIMARY KEY, aggregatetype varchar(255) NOT NULL,
    aggregateid varchar(255) NOT NULL, type varchar(255) NOT NULL, payload jsonb NOT NULL,
    correlation_id varchar(255), causation_id varchar(255),
    created_at timestamptz NOT NULL DEFAULT now())""",
    "CREATE TABLE orders (id text PRIMARY KEY, status text, total numeric(12,2), "
    "produced_at timestamptz)",
    "CREATE TABLE shadow_orders (order_id text PRIMARY KEY, status text, total numeric(12,2), "
    "produced_at timestamptz)",
    f"INSERT INTO orders SELECT 'o' || lpad(g::text, 4, '0'), 'completed', 10.00 + g, "
    f"now() - interval '2 minutes' FROM generate_series(1, {ORDERS}) g",
    "INSERT INTO shadow_orders SELECT id, status, total, produced_at FROM orders",
)


def gate_plan(endpoints: Endpoints, unique: str, reports: Path) -> Plan:
    """The sample plan cut to one context whose outcomes are the scratch tables."""
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
    order = data["contexts"]["order"]
    order.update(
        topic={"name": f"{prefix}.order", "partitions": 2},
        consumer_group=f"t-{unique}-order",
        outcome={
            "key": "order_id",
            "sync_query": "SELECT id AS order_id, status, total, produced_at FROM orders",
            "event_query": "SELECT order_id, status, total, produced_at FROM shadow_orders",
        },
        compare={"settle_seconds": 0},
        invariants=[],
        depends_on=[],
    )
    data["contexts"] = {"order": order}
    data["contracts"] = {"dir": str(SAMPLE.parents[2] / "legacy_app" / "contracts")}
    data["rollout_order"] = ["order"]
    data["reports_dir"] = str(reports)
    data["gates"]["dual_write"].update(
        {"min_settled_keys": 100, "min_match_rate": 0.99, "warn_match_rate": None}
    )
    return parse_plan(data)


@dataclass
class World:
    plan: Plan
    url: str
    engine: Engine
    store: StateStore
    reports: Path
    conf: dict[str, Any]

    def runner(self, *, connect_timeout_s: float = CONNECT_TIMEOUT_S) -> Runner:
        env = {"LEGACY_DATABASE_URL": self.url}
        ports = build_ports(self.plan, SqlModeStore(self.engine), env, reports_dir=self.reports)
        health = CdcHealthProbe(self.plan, env, self.url, timeout_s=connect_timeout_s)
        ctx = StepContext(
            plan=self.plan,
            ports=dataclasses.replace(ports, health=health),
            actor="it@test",
            drills=StoreDrillLog(self.store, "it@test"),
        )
        return Runner(store=self.store, ctx=ctx, graph=default_graph(), reports_dir=self.reports)


def wait_heartbeat(engine: Engine, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            exists = conn.execute(text("SELECT to_regclass('public.debezium_heartbeat')")).scalar()
            if exists and conn.execute(text("SELECT count(*) FROM debezium_heartbeat")).scalar():
                return
        time.sleep(0.5)
    raise AssertionError("no heartbeat row written by the connector")


@pytest.fixture(scope="module")
def world(endpoints: Endpoints, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    unique = uuid.uuid4().hex[:10]
    name = f"t_{unique}"
    create_database(endpoints, name)
    url = endpoints.database_url(name)
    engine = create_engine(url)
    reports = tmp_path_factory.mktemp("gates") / "reports"
    plan = gate_plan(endpoints, unique, reports)
    conf = kafka_config(plan, {})
    env = {"LEGACY_DATABASE_URL": url}
    try:
        with engine.begin() as conn:
            for ddl in OUTCOME_DDL:
                conn.execute(text(ddl))
        KafkaTopicAdmin(conf).ensure_topics([t.spec for t in plan_topics(plan)])  # as phase 2
        CdcConnectorAdmin(plan, env, url).apply_outbox_connector()
        wait_heartbeat(engine)
        store = StateStore(engine)
        store.initialise()
        ctx = StepContext(
            plan=plan,
            ports=fake_ports(SqlModeStore(engine)),  # type: ignore[arg-type]
            actor="it@test",
            drills=StoreDrillLog(store, "it@test"),
        )
        Runner(store=store, ctx=ctx, graph=default_graph(), reports_dir=reports).advance(target=3)
        with engine.begin() as conn:  # the orders above were placed after entering dual
            conn.execute(
                update(ContextModeRow.__table__).values(
                    updated_at=text("now() - interval '3 minutes'")
                )
            )
        yield World(plan, url, engine, store, reports, conf)
    finally:
        _cleanup(endpoints, plan, conf)
        engine.dispose()
        drop_database(endpoints, name)


def _cleanup(endpoints: Endpoints, plan: Plan, conf: dict[str, Any]) -> None:
    from confluent_kafka.admin import AdminClient

    from cdc.client import ConnectClient

    client = ConnectClient.from_url(endpoints.connect_url)
    if plan.system.connect.connector_name in client.list_connectors():
        client.delete_connector(plan.system.connect.connector_name)
    admin = AdminClient(conf)
    prefix = plan.system.kafka.topic_prefix.split(".")[0]
    mine = [t for t in admin.list_topics(timeout=10).topics if t.startswith(f"{prefix}.")]
    for future in admin.delete_topics(mine, operation_timeout=30).values() if mine else []:
        future.result()


@pytest.fixture
def live_consumer(world: World) -> Iterator[None]:
    """One live member in the context's shadow group (it subscribes and is assigned)."""
    from confluent_kafka import Consumer

    consumer = Consumer({**world.conf, "group.id": world.plan.contexts["order"].consumer_group})
    consumer.subscribe([world.plan.contexts["order"].topic.name])
    try:
        deadline = time.monotonic() + 30
        while not consumer.assignment() and time.monotonic() < deadline:
            consumer.poll(0.2)
        assert consumer.assignment(), "the consumer was never assigned"
        yield
    finally:
        consumer.close()


def frozen(pid: int) -> Any:
    """SIGSTOP ``pid`` for the block, SIGCONT whatever happens."""

    class _Frozen:
        def __enter__(self) -> None:
            os.kill(pid, signal.SIGSTOP)

        def __exit__(self, *exc: object) -> None:
            os.kill(pid, signal.SIGCONT)

    return _Frozen()


def checks_of(runner_outcome: Any) -> dict[tuple[str | None, str], Any]:
    return {(c.context, c.name): c for c in runner_outcome.gate.checks}


def test_connect_frozen_during_a_gate_is_inconclusive_and_reverts_nothing(
    world: World, topology: Topology, live_consumer: None
) -> None:
    runner = world.runner()
    before = runner.check_gate()
    assert before.gate is not None
    assert before.gate.verdict.value == "pass", before.gate.reasons

    pid = stack_kafka.connect_service(topology).process(topology).pid()
    assert pid is not None
    started = time.monotonic()
    with frozen(pid):
        outcome = runner.check_gate()
    frozen_s = time.monotonic() - started

    assert outcome.gate is not None
    checks = checks_of(outcome)
    assert outcome.gate.verdict.value == "inconclusive", outcome.gate.reasons
    assert (outcome.status, outcome.exit_code, outcome.phase) == ("paused", 6, 3)
    assert checks[(None, "connector_running")].verdict.value == "unknown"
    assert checks[(None, "tasks_running")].verdict.value == "unknown"
    assert "Kafka Connect unreadable" in checks[(None, "tasks_running")].detail
    assert checks[(None, "slot_active")].verdict.value == "pass"  # read from Postgres
    assert checks[("order", "comparison_match_rate")].verdict.value == "pass"
    assert checks[("order", "consumers_live")].observed == 1
    assert runner.state().modes == {"order": Mode.DUAL}
    assert world.store.history(10, action="auto-revert") == []
    doc = json.loads(Path(outcome.evidence.path).read_text())  # type: ignore[union-attr]
    assert doc["snapshots"]["comparison"]["order"]["counts"].get("missing", 0) == 0
    assert doc["snapshots"]["connector"]["unreadable"]
    assert frozen_s < 20, frozen_s


def test_no_live_consumer_in_phase_3_fails_and_pauses(world: World) -> None:
    runner = world.runner(connect_timeout_s=10)
    outcome = runner.check_gate()
    assert outcome.gate is not None
    live = checks_of(outcome)[("order", "consumers_live")]
    group = world.plan.contexts["order"].consumer_group
    assert (live.verdict.value, live.observed) == ("fail", 0)
    assert live.detail == f"no live consumers in group {group}"
    assert (outcome.status, outcome.exit_code, outcome.phase) == ("paused", 4, 3)
    assert outcome.to_dict()["paused_because"] == (
        "failed on infrastructure or inputs, not on outcomes (no automatic revert)"
    )
    assert runner.state().modes == {"order": Mode.DUAL}
    assert world.store.history(10, action="auto-revert") == []


def test_a_renamed_column_fails_gate_check_with_the_database_message(
    world: World,
    endpoints: Endpoints,
    fresh_database: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = endpoints.database_url(fresh_database)
    engine = create_engine(url)
    with engine.begin() as conn:
        for ddl in OUTCOME_DDL:
            conn.execute(text(ddl))
    StateStore(engine).initialise()  # `cutover init`
    plan_file = tmp_path / "plan.yaml"
    plan_file.write_text(
        yaml.safe_dump(world.plan.model_dump(mode="json", by_alias=True, exclude_none=True))
    )
    out = io.StringIO()
    config = CommandConfig(
        plan_path=plan_file,
        reports_dir=tmp_path / "reports",
        actor="it@test",
        stdout=out,
        environ={"LEGACY_DATABASE_URL": url},
        ports_factory=lambda p, m: fake_ports(m),  # type: ignore[arg-type]
    )
    assert commands.advance(config, to=3) == 0
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE orders RENAME COLUMN total TO order_total"))
    engine.dispose()

    config.ports_factory = None  # the real adapters from here on
    config.json = True
    out.truncate(0)
    out.seek(0)
    code = commands.gate_check(config)

    printed = out.getvalue()
    result = json.loads(printed)
    captured = capsys.readouterr()
    assert code == 4
    assert result["verdict"] == "fail"
    assert (
        'order: comparison_query: sync outcome query failed: column "total" does not exist'
        in (result["reasons"])
    )
    assert Path(result["evidence"]).exists()
    evidence = json.loads(Path(result["evidence"]).read_text())
    query = next(c for c in evidence["checks"] if c["name"] == "comparison_query")
    assert (query["verdict"], query["kind"]) == ("fail", "input")
    assert result["paused_because"] is not None
    for text_ in (printed, captured.out, captured.err):
        assert "Traceback" not in text_
