"""Out of scope, expired and repair on the real stack (Postgres, Kafka, Connect + Debezium).

(a) Orders the sample placed in ``sync`` before ``dual`` are out of scope of the dual-write
comparison, read through the sample's own outcome SQL, never missing.
(b) Events Kafka deleted unread (``AdminClient.delete_records``, so the test does not wait
on retention) while no worker consumes are ``expired``, as many as were deleted, and
``repair`` proposes events for exactly those keys.
"""

from __future__ import annotations

import dataclasses
import io
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient
from psycopg.types.json import Jsonb

from cdc.client import ConnectClient
from comparators import commands
from comparators.kafka_partitioner import partition_for
from comparators.plan import CompareConfig
from comparators.result import Category
from legacy_app.outcomes import SYNC_OUTCOME_JSON_SQL, WRITE_MODE, iter_sync_outcomes
from legacy_app.schema import create_all
from rehearsal.stack.endpoints import Endpoints
from tests.integration.shadow.conftest import Pipeline, read_topic, wait_until
from tests.support.plans import SAMPLE_RULES, load_config
from tests.unit.comparators.factories import record

pytestmark = pytest.mark.integration

EVENT_DDL = "CREATE TABLE event_outcomes (outcome jsonb NOT NULL)"


def _insert_events(dsn: str, records: Sequence[dict[str, Any]]) -> None:
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(EVENT_DDL)
        cur.executemany(
            "INSERT INTO event_outcomes (outcome) VALUES (%s)", [(Jsonb(r),) for r in records]
        )


# --- (a) the sample's orders placed in sync before dual -----------------------------------

SAMPLE_PLAN = """
system: {database: {url_env: CAT_TEST_DB}}
contexts:
  order:
    events: [order.created]
    outcome:
      key: order_id
      sync_query: |
%s
      event_query: SELECT outcome FROM event_outcomes
    compare: {settle_seconds: 5, ignore: [correlation_id], %s}
gates:
  dual_write: {min_settled_keys: 1, min_match_rate: 0.99, warn_match_rate: 0.9}
"""


def _place(conn: psycopg.Connection[Any], order_id: str, mode: str, finished: datetime) -> None:
    conn.execute(
        "INSERT INTO orders (id, customer_id, customer_email, status, total, currency, "
        "payment_method, mode, correlation_id, created_at, finished_at) VALUES "
        "(%s, 'c-1', 'ann@example.com', 'failed', 23.75, 'EUR', 'card', %s, %s, %s, %s)",
        (order_id, mode, f"corr-{order_id}", finished, finished),
    )


def test_orders_placed_in_sync_before_dual_are_out_of_scope_not_missing(
    endpoints: Endpoints, fresh_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    create_all(endpoints.database_url(fresh_database))
    dsn = endpoints.dsn(fresh_database)
    at = datetime.now(UTC) - timedelta(minutes=5)
    sync_ids = [f"o-s{i:03d}" for i in range(40)]  # before the flip to dual: no events
    dual_ids = [f"o-d{i:03d}" for i in range(60)]
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "INSERT INTO customers (id, name, email) VALUES ('c-1', 'Ann', 'ann@example.com')"
        )
        for n, oid in enumerate(sync_ids):
            _place(conn, oid, "sync", at + timedelta(milliseconds=n))
        for n, oid in enumerate(dual_ids):
            _place(conn, oid, "dual", at + timedelta(seconds=1, milliseconds=n))
    shadow = [
        {**o.to_dict(), "source": "event"}
        for o in iter_sync_outcomes(endpoints.database_url(fresh_database))
        if o.order_id in dual_ids[2:]  # two dual orders never reached the event side
    ]
    _insert_events(dsn, shadow)
    sql = "\n".join(f"        {line}" for line in SYNC_OUTCOME_JSON_SQL.strip().splitlines())
    (tmp_path / "plan.yaml").write_text(SAMPLE_PLAN % (sql, SAMPLE_RULES))
    monkeypatch.setenv("CAT_TEST_DB", dsn)
    config = load_config(tmp_path / "plan.yaml", "order")

    run = commands.run_compare(config, stdout=io.StringIO(), as_json=True)

    counts = run.evidence["counts"]
    assert counts["out_of_scope"] == 40
    assert counts["missing"] == 2
    assert counts["match"] == 58
    assert run.evidence["left_out"] == {
        "pending": 0,
        "inconclusive": 0,
        "out_of_scope": 40,
        "total": 40,
        "share": 0.4,
    }
    assert run.evidence["pipeline"]["measured"] is False  # the plan names no topic
    outcomes = iter_sync_outcomes(endpoints.database_url(fresh_database))
    modes = {o.order_id: o.extra[WRITE_MODE] for o in outcomes}
    assert {modes[i] for i in sync_ids} == {"sync"} and {modes[i] for i in dual_ids} == {"dual"}


# --- (b) events deleted unread ------------------------------------------------------------

STACK_PLAN = """
system:
  database: {url_env: CAT_TEST_DB}
  kafka: {bootstrap_servers: "%(bootstrap)s"}
  connect: {connector_name: "%(prefix)s"}  # the heartbeat topic's prefix
contexts:
  order:
    events: [order.created]
    topic: {name: "%(topic)s"}
    consumer_group: "%(group)s"
    outcome:
      key: order_id
      sync_query: SELECT * FROM sync_outcomes
      event_query: SELECT outcome FROM event_outcomes
    compare: {settle_seconds: 5, mode_column: ctx_mode, %(rules)s}
gates:
  dual_write: {min_settled_keys: 1, min_match_rate: 0.99, warn_match_rate: 0.9}
"""

SYNC_DDL = """
CREATE TABLE sync_outcomes (
    order_id text NOT NULL, correlation_id text, status text, total numeric(12,2),
    reservation jsonb, payment jsonb, shipment jsonb, notifications jsonb,
    produced_at timestamptz NOT NULL, source text, ctx_mode text
)
"""


def _insert_controls(dsn: str, rows: Sequence[dict[str, Any]]) -> None:
    cols = [*record(1), "ctx_mode"]
    json_cols = {"reservation", "payment", "shipment", "notifications"}
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(SYNC_DDL)
        with cur.copy(f"COPY sync_outcomes ({', '.join(cols)}) FROM STDIN") as copy:
            for r in rows:
                copy.write_row([Jsonb(r[c]) if c in json_cols else r[c] for c in cols])


def _highs(endpoints: Endpoints, topic: str) -> dict[int, int]:
    probe = Consumer({"bootstrap.servers": endpoints.bootstrap_servers, "group.id": "probe"})
    try:
        meta = probe.list_topics(topic, timeout=10).topics[topic]
        return {
            p: probe.get_watermark_offsets(TopicPartition(topic, p), timeout=10, cached=False)[1]
            for p in meta.partitions
        }
    finally:
        probe.close()


def _commit(endpoints: Endpoints, group: str, topic: str, offsets: dict[int, int]) -> None:
    """The group's committed offsets, as a shadow worker that consumed up to them leaves them."""
    consumer = Consumer({"bootstrap.servers": endpoints.bootstrap_servers, "group.id": group})
    try:
        consumer.commit(
            offsets=[TopicPartition(topic, p, o) for p, o in offsets.items()], asynchronous=False
        )
    finally:
        consumer.close()


def _delete_unread(endpoints: Endpoints, topic: str, highs: dict[int, int]) -> None:
    admin = AdminClient({"bootstrap.servers": endpoints.bootstrap_servers})
    futures = admin.delete_records([TopicPartition(topic, p, o) for p, o in highs.items()])
    for future in futures.values():
        future.result(timeout=30)


def _stack_config(
    endpoints: Endpoints, pipeline: Pipeline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> CompareConfig:
    values = {
        "bootstrap": endpoints.bootstrap_servers,
        "topic": pipeline.topic,
        "group": pipeline.group,
        "prefix": pipeline.connector.replace("-", "_"),  # the fixture's slot and topic prefix
        "rules": SAMPLE_RULES,
    }
    (tmp_path / "plan.yaml").write_text(STACK_PLAN % values)
    monkeypatch.setenv("CAT_TEST_DB", pipeline.dsn)
    return load_config(tmp_path / "plan.yaml", "order", pipeline=True)


def _steady_size(pipeline: Pipeline, at_least: int, quiet: float = 2.0) -> int:
    """The topic's record count once it reached ``at_least`` and held still for ``quiet`` s."""
    wait_until(lambda: pipeline.topic_records() >= at_least, 60, "the first events in Kafka")
    size, since = pipeline.topic_records(), time.monotonic()
    while time.monotonic() - since < quiet:
        time.sleep(0.25)
        now = pipeline.topic_records()
        if now != size:
            size, since = now, time.monotonic()
    return size


def test_events_deleted_unread_are_expired_and_repair_proposes_exactly_them(
    endpoints: Endpoints, pipeline: Pipeline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = time.monotonic()
    at = datetime.now(UTC) - timedelta(minutes=2)
    read = [f"r-{i:03d}" for i in range(24)]  # consumed by the shadow group
    lost = [f"x-{i:03d}" for i in range(17)]  # deleted by Kafka before anyone read them
    quiet = [f"q-{i:03d}" for i in range(6)]  # written in sync: no event at all
    pipeline.insert_orders([{"order_id": k} for k in read])
    # the connector's first snapshot may publish a row twice; once the topic holds still it
    # streams, and every later row is published once
    _steady_size(pipeline, len(read))
    committed = _highs(endpoints, pipeline.topic)
    _commit(endpoints, pipeline.group, pipeline.topic, committed)
    pipeline.insert_orders([{"order_id": k} for k in lost])
    _steady_size(pipeline, sum(committed.values()) + len(lost))
    records = read_topic(endpoints, pipeline.topic, len(read) + len(lost))
    # Connect's Java producer placed every key where the comparators' murmur2 says
    placed = {m.key().decode(): m.partition() for m in records}
    assert placed == {k: partition_for(k, 3) for k in read + lost}
    unread = [m.key().decode() for m in records if m.offset() >= committed[m.partition()]]
    assert sorted(unread) == lost  # the events about to be deleted, each once
    _delete_unread(endpoints, pipeline.topic, _highs(endpoints, pipeline.topic))

    controls = []
    for n, k in enumerate([*read, *lost, *quiet]):
        row = record(n, at=at + timedelta(milliseconds=n), order_id=k)
        controls.append({**row, "ctx_mode": "sync" if k in quiet else "dual"})
    _insert_controls(pipeline.dsn, controls)
    _insert_events(
        pipeline.dsn,
        [{**r, "source": "event"} for r in controls if r["order_id"] in read],
    )
    config = _stack_config(endpoints, pipeline, tmp_path, monkeypatch)

    run = commands.run_compare(config, stdout=io.StringIO(), as_json=True)
    plan, written = commands.repair(config, writer=None, stdout=io.StringIO())

    # offsets deleted: the events, plus the transaction markers of Connect's producer
    assert run.position is not None and run.position.expired >= len(unread)
    assert run.evidence["pipeline"]["measured"] is True
    assert run.position.captured_at is not None  # the connector's heartbeats, end to end
    assert datetime.now(UTC) - run.position.captured_at < timedelta(seconds=30)
    counts = run.evidence["counts"]
    assert counts["expired"] == len(unread) == len(lost)
    assert (counts["match"], counts["out_of_scope"], counts["missing"]) == (len(read), 6, 0)
    assert run.result.count(Category.PENDING) == 0
    assert str(run.verdict.status) == "fail" and f"expired keys {len(lost)} > max 0" in (
        run.verdict.reasons
    )
    assert sorted(e.aggregateid for e in plan.events) == lost
    assert plan.divergent == () and written == 0
    assert time.monotonic() - started < 40


# --- (c) Kafka Connect stopped: nothing new is captured -----------------------------------


def test_keys_written_while_connect_captures_nothing_are_pending_not_missing(
    endpoints: Endpoints, pipeline: Pipeline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The connector paused (as frozen: no capture, no heartbeat): the group has read all
    Kafka holds, yet keys committed since the last heartbeat are pending, none missing."""
    pipeline.insert_orders([{"order_id": "h-000"}])
    _steady_size(pipeline, 1)
    _commit(endpoints, pipeline.group, pipeline.topic, _highs(endpoints, pipeline.topic))
    client = ConnectClient.from_url(endpoints.connect_url)
    client.pause(pipeline.connector)
    client.wait_for(pipeline.connector, "PAUSED", timeout_s=30)
    time.sleep(2)  # past the last heartbeat (1 s interval) and the settle window (1 s)
    since_pause = datetime.now(UTC) - timedelta(milliseconds=300)
    keys = [f"f-{i:03d}" for i in range(12)]
    pipeline.insert_orders([{"order_id": k} for k in keys])  # never captured while paused
    controls = [
        {**record(i, at=since_pause + timedelta(milliseconds=i), order_id=k), "ctx_mode": "dual"}
        for i, k in enumerate(keys)
    ]
    _insert_controls(pipeline.dsn, controls)
    _insert_events(pipeline.dsn, [])
    config = _stack_config(endpoints, pipeline, tmp_path, monkeypatch)
    config = dataclasses.replace(
        config, options=dataclasses.replace(config.options, settle=timedelta(seconds=0.2))
    )

    run = commands.run_compare(config, stdout=io.StringIO(), as_json=True)

    assert run.position is not None and run.position.lag_messages == 0
    assert run.position.captured_at is not None and run.position.captured_at < since_pause
    counts = run.evidence["counts"]
    assert (counts["pending"], counts["missing"]) == (len(keys), 0)
    assert run.evidence["left_out"]["pending"] == len(keys)
