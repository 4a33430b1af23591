"""A replication slot dropped under traffic, named by ``connectors status`` and recovered by
``connectors recover`` on the REAL stack: every event written reaches Kafka, and fewer than
1 % of the events delivered before the loss are sent again.

"The shadow" is stood in for by a consumer counting distinct event ids (the ``id`` header).
"""

from __future__ import annotations

import io
import json
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from confluent_kafka import Consumer

from cdc.client import ConnectClient
from cdc.debezium import OutboxOptions, build_postgres_config
from cdc.errors import EXIT_UNHEALTHY
from cdc.models import RUNNING
from comparators.diff import Observation, Scope, compare
from comparators.result import ComparisonResult
from comparators.rules import CompareOptions
from cutover_common.topics import KafkaTopicAdmin, TopicSpecValue
from events.routed import header_map
from rehearsal.stack.endpoints import Endpoints
from tests.integration.cdc.conftest import options_for
from tests.integration.cdc.test_cli_real import cli

INSERT = (
    "insert into outbox (id, aggregatetype, aggregateid, type, payload) "
    "values (%s, 'thing', 'k', 'thing.made', '{}')"
)


class Writer(threading.Thread):
    """Writes one outbox row every few milliseconds until stopped; keeps every id."""

    def __init__(self, dsn: str) -> None:
        super().__init__(daemon=True)
        self.dsn, self.ids, self.stop = dsn, list[str](), threading.Event()

    def run(self) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            while not self.stop.is_set():
                event_id = str(uuid.uuid4())
                conn.execute(INSERT, (event_id,))
                self.ids.append(event_id)
                time.sleep(0.004)


def read_ids(
    endpoints: Endpoints, topic: str, *, until: set[str], timeout_s: float
) -> Counter[str]:
    """Every ``id`` header on ``topic`` from the start, until ``until`` is all seen (or the
    topic is drained when ``until`` is empty)."""
    consumer = Consumer(
        {
            "bootstrap.servers": endpoints.bootstrap_servers,
            "group.id": f"it-recover-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    seen: Counter[str] = Counter()
    deadline, idle = time.monotonic() + timeout_s, 0
    try:
        while time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                idle += 1
                if (until and until <= set(seen)) or (not until and seen and idle >= 4):
                    break
                continue
            if msg.error():
                continue
            idle = 0
            seen[header_map(msg.headers())["id"]] += 1
    finally:
        consumer.close()
    return seen


def created_at(dsn: str, ids: set[str]) -> list[str]:
    """When the rows ``ids`` were created (for a failure's message)."""
    with psycopg.connect(dsn) as conn:
        query = "select created_at::text from outbox where id = any(%s::uuid[]) order by 1"
        return [r[0] for r in conn.execute(query, (sorted(ids),)).fetchall()]


def compare_outbox_with_topic(dsn: str, seen: Counter[str]) -> ComparisonResult:
    """One comparator run: the outbox rows (control) against the events on the topic
    (candidate), keyed by event id."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("select id::text, created_at from outbox order by 1").fetchall()
    now = datetime.now(UTC)
    control = [Observation(i, {"id": i}, at) for i, at in rows]
    candidate = [Observation(i, {"id": i}, now) for i in sorted(seen)]
    options = CompareOptions(key="id", settle=timedelta(0))
    return compare(control, candidate, options, Scope(now=now + timedelta(seconds=1)))


def drop_slot(dsn: str, slot: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        for _ in range(50):
            conn.execute(
                "select pg_terminate_backend(active_pid) from pg_replication_slots "
                "where slot_name = %s and active_pid is not null",
                (slot,),
            )
            try:
                conn.execute("select pg_drop_replication_slot(%s)", (slot,))
                return
            except psycopg.errors.ObjectInUse:  # the walsender came back: terminate again
                time.sleep(0.1)
    raise AssertionError(f"could not drop slot {slot}")


def drop_and_recover(
    endpoints: Endpoints, name: str, slot: str, dsn: str, topic: str
) -> tuple[dict[str, Any], Counter[str]]:
    """Under the writer's traffic: drop the slot, check ``status`` names it, recover."""
    time.sleep(2.5)  # delivered before the loss
    drop_slot(dsn, slot)
    time.sleep(0.5)  # the gap: written while no slot exists
    env = {"IT_DSN": dsn}
    logs = io.StringIO()
    status = cli(endpoints, env, logs, "status", name, "--dsn-env", "IT_DSN")
    assert status.exit_code == EXIT_UNHEALTHY
    assert f"slot missing: replication slot {slot} does not exist" in status.stdout
    delivered = read_ids(endpoints, topic, until=set(), timeout_s=20)
    ran = cli(
        endpoints,
        env,
        logs,
        "recover",
        name,
        "--dsn-env",
        "IT_DSN",
        "--bootstrap-servers",
        endpoints.bootstrap_servers,
        "--margin",
        "2",
        "--json",
    )
    assert ran.exit_code == 0, ran.output
    time.sleep(0.5)  # written after the recovery: streamed from the new slot
    return json.loads(ran.stdout), delivered


def test_dropped_slot_is_named_and_recovered_without_republishing(
    endpoints: Endpoints, captured_db: str, client: ConnectClient, unique: str
) -> None:
    name, prefix = f"rec-{unique}", f"rec{unique}"
    opts = options_for(endpoints, captured_db, name, outbox=OutboxOptions(topic_prefix=prefix))
    topic = f"{prefix}.thing"
    server = opts.topic_prefix
    needed = (topic, f"__debezium-heartbeat.{server}", f"{server}.public.debezium_heartbeat")
    KafkaTopicAdmin({"bootstrap.servers": endpoints.bootstrap_servers}).ensure_topics(
        [TopicSpecValue(t, 1) for t in needed]
    )
    client.put_config(name, build_postgres_config(opts))
    client.wait_for(name, RUNNING, timeout_s=240)
    dsn = endpoints.dsn(captured_db)
    writer = Writer(dsn)
    writer.start()
    try:
        report, delivered = drop_and_recover(endpoints, name, opts.slot_name, dsn, topic)
    finally:
        writer.stop.set()
        writer.join()

    written = set(writer.ids)
    seen = read_ids(endpoints, topic, until=written, timeout_s=60)
    missing = written - set(seen)
    assert not missing, f"never reached Kafka: {created_at(dsn, missing)}; report {report}"
    compared = compare_outbox_with_topic(dsn, seen)
    assert (compared.count("missing"), compared.count("extra")) == (0, 0)
    assert compared.matched == len(written)
    resent = sum(seen[i] - 1 for i in delivered)
    assert len(delivered) > 200 and resent < 0.01 * len(delivered)
    assert report["gap"] > 0 and report["may_reemit"] == 0
    print(
        f"written={len(written)} delivered_before={len(delivered)} gap={report['gap']} "
        f"resent={resent} recover_s={report['seconds']}",
        *report["steps"],
        sep="\n",
    )
