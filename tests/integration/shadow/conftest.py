"""Fixtures of the shadow integration tests: a fresh database with an outbox, a real Debezium
outbox connector routing it to a unique topic, and shadow workers as real processes."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from confluent_kafka import Consumer, ConsumerGroupState, TopicPartition
from confluent_kafka.admin import AdminClient

from cdc.debezium import (
    DatabaseOptions,
    HeartbeatOptions,
    OutboxOptions,
    PostgresConnectorOptions,
    build_postgres_config,
    heartbeat_table_ddl,
)
from cdc.errors import ConnectorNotFound
from legacy_app.orderflow.samples import INSERT_OUTBOX, OUTBOX_DDL, outbox_row
from rehearsal.stack.endpoints import Endpoints
from shadow.kafka import (
    KafkaConsumerAdapter,
    KafkaProducerAdapter,
    consumer_config,
)
from shadow.plugin import Processor
from shadow.runtime import RuntimeSettings, ShadowWorker
from shadow.store import ShadowStore
from tests.integration.topics import ensure_connector_topics

REPO = Path(__file__).resolve().parents[3]
PARTITIONS = 3
SAMPLE_APP = "legacy_app.orderflow.app:app"


def wait_until(
    check: Callable[[], bool], timeout: float, what: str, interval: float = 0.25
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@dataclass
class Pipeline:
    """A database with an outbox captured by a running connector into ``topic``."""

    endpoints: Endpoints
    database: str
    topic: str
    group: str
    connector: str
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def dsn(self) -> str:
        return self.endpoints.dsn(self.database)

    @property
    def dlq(self) -> str:
        return f"{self.group}.dlq"

    def insert_orders(self, payloads: list[dict[str, Any]]) -> list[dict[str, Any]]:
        rows = [outbox_row(p) for p in payloads]
        with psycopg.connect(self.dsn) as conn, conn.cursor() as cur:
            cur.executemany(INSERT_OUTBOX, rows)
        return rows

    def scalar(self, sql: str, params: Any = None) -> Any:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            row = conn.execute(sql, params).fetchone()
            return None if row is None else row[0]

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "CUTOVER_SHADOW_DSN": self.dsn,
            "CUTOVER_SHADOW_BOOTSTRAP": self.endpoints.bootstrap_servers,
            "CUTOVER_SHADOW_GROUP": self.group,
            "CUTOVER_SHADOW_TOPICS": self.topic,
            "CUTOVER_SHADOW_APP": SAMPLE_APP,
            "PYTHONUNBUFFERED": "1",
        }

    def start_worker(self, *args: str, log: Path | None = None) -> subprocess.Popen[bytes]:
        out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115
        proc = subprocess.Popen(
            [sys.executable, "-m", "shadow", "run", *args],
            cwd=REPO,
            env=self.env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the supervisor and its workers
        )
        self.procs.append(proc)
        return proc

    def crash_worker(self, proc: subprocess.Popen[bytes]) -> None:
        """SIGKILL the whole ``cutover shadow run`` (supervisor and worker processes): no
        commit, no close, mid-stream; returns once none of them is left."""
        os.killpg(proc.pid, signal.SIGKILL)
        assert proc.wait(10) == -signal.SIGKILL
        wait_until(lambda: not group_alive(proc.pid), 10, "every process of the worker gone")

    def stop_workers(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)

    def topic_records(self) -> int:
        from shadow.kafka import topic_size

        return topic_size(self.endpoints.bootstrap_servers, self.topic)

    def processed(self, consumer: str = "shadow.flow") -> int:
        return int(
            self.scalar(
                "SELECT count(*) FROM shadow.processed_events WHERE consumer = %s", (consumer,)
            )
            or 0
        )

    def wait_processed(self, n: int, timeout: float = 120, consumer: str = "shadow.flow") -> None:
        wait_until(lambda: self._safe_processed(consumer) >= n, timeout, f"{n} events processed")

    def _safe_processed(self, consumer: str) -> int:
        try:
            return self.processed(consumer)
        except psycopg.errors.UndefinedTable:
            return 0


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie nobody reaped yet does not count)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def group_alive(pgid: int) -> bool:
    """True while some process of process group ``pgid`` runs (zombies do not count)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(FileNotFoundError, ProcessLookupError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                return True
    return False


def read_topic(endpoints: Endpoints, topic: str, expected: int, timeout: float = 60) -> list[Any]:
    """Every record of ``topic`` (waits until ``expected`` arrived)."""
    consumer = Consumer(
        {
            "bootstrap.servers": endpoints.bootstrap_servers,
            "group.id": f"reader-{time.time_ns()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    out: list[Any] = []
    deadline = time.monotonic() + timeout
    try:
        while len(out) < expected and time.monotonic() < deadline:
            for m in consumer.consume(500, 1.0):
                if m.error() is None:
                    out.append(m)
    finally:
        consumer.close()
    return out


def topic_size_of(endpoints: Endpoints, topic: str) -> int:
    """Records in ``topic`` (0 when it does not exist)."""
    from shadow.errors import KafkaOperationError
    from shadow.kafka import topic_size

    try:
        return topic_size(endpoints.bootstrap_servers, topic)
    except KafkaOperationError:
        return 0


def committed_total(endpoints: Endpoints, group: str, topic: str) -> int:
    probe = Consumer({"bootstrap.servers": endpoints.bootstrap_servers, "group.id": group})
    try:
        parts = probe.committed([TopicPartition(topic, p) for p in range(PARTITIONS)], timeout=10)
        return sum(max(p.offset, 0) for p in parts)
    finally:
        probe.close()


def group_members(endpoints: Endpoints, group: str) -> int:
    """Members of ``group`` holding partitions once the group is stable (0 before)."""
    admin = AdminClient({"bootstrap.servers": endpoints.bootstrap_servers})
    desc = admin.describe_consumer_groups([group])[group].result(timeout=10)
    if desc.state != ConsumerGroupState.STABLE:
        return 0
    return sum(1 for m in desc.members if m.assignment.topic_partitions)


@pytest.fixture
def outbox_db(endpoints: Endpoints, fresh_database: str) -> str:
    with psycopg.connect(endpoints.dsn(fresh_database), autocommit=True) as conn:
        conn.execute(OUTBOX_DDL)
        conn.execute(heartbeat_table_ddl())
    return fresh_database


def connector_options(
    endpoints: Endpoints,
    database: str,
    slot: str,
    outbox: OutboxOptions,
    heartbeat: HeartbeatOptions | None,
) -> PostgresConnectorOptions:
    """An outbox connector on ``database`` of the stack; ``slot`` names slot and publication."""
    return PostgresConnectorOptions(
        database=DatabaseOptions(
            "127.0.0.1",
            endpoints.pg_port,
            endpoints.pg_user,
            database,
            endpoints.connector_password,
        ),
        topic_prefix=slot,
        slot_name=slot,
        publication_name=slot,
        outbox=outbox,
        heartbeat=heartbeat,
    )


def register_outbox_connector(endpoints: Endpoints, database: str, unique: str) -> tuple[str, str]:
    """Create the topic (3 partitions) and a running outbox connector; returns (name, topic)."""
    prefix = f"it{unique}.event"
    topic = f"{prefix}.order"
    name = (
        f"shadow-itest-{unique}"  # not "it-": the cdc tests' cleanup deletes new "it-*" connectors
    )
    opts = connector_options(
        endpoints,
        database,
        f"shadow_itest_{unique}",
        OutboxOptions(topic_prefix=prefix),
        HeartbeatOptions(interval_ms=1000),
    )
    config = build_postgres_config(opts)  # its topics first: the broker creates none on use
    ensure_connector_topics(endpoints.bootstrap_servers, config, partitions=PARTITIONS)
    client = endpoints.connect_client()
    for attempt in range(4):  # other engineers' disruptive tests may be restarting Connect
        try:
            if name not in client.list_connectors():
                client.create_connector(name, config)
            client.wait_for(name, "RUNNING", timeout_s=90)
            return name, topic
        except Exception:
            if attempt == 3:
                raise
            time.sleep(10)
    raise AssertionError("unreachable")


@pytest.fixture
def pipeline(endpoints: Endpoints, outbox_db: str, unique: str) -> Iterator[Pipeline]:
    name, topic = register_outbox_connector(endpoints, outbox_db, unique)
    pipe = Pipeline(endpoints, outbox_db, topic, f"it-shadow-{unique}", name)
    try:
        yield pipe
    finally:
        pipe.stop_workers()
        with contextlib.suppress(ConnectorNotFound):
            endpoints.connect_client().delete_connector(name)


def kafka_worker(
    endpoints: Endpoints,
    store: ShadowStore,
    processor: Processor,
    topic: str,
    group: str,
    writer: ShadowStore | None = None,
    **settings: Any,
) -> ShadowWorker:
    """A started in-process worker of ``group`` on the real broker (dead letters: ``group.dlq``),
    written behind when given a ``writer`` store."""
    worker = ShadowWorker(
        KafkaConsumerAdapter(consumer_config(endpoints.bootstrap_servers, group)),
        KafkaProducerAdapter(endpoints.bootstrap_servers),
        store,
        processor,
        RuntimeSettings((topic,), settings.pop("dlq", f"{group}.dlq"), **settings),
        writer=writer,
    )
    worker.start()
    return worker
