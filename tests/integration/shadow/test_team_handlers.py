"""A team's handlers on the real stack: ``team_app.py`` beside this file (favorites of articles,
written with ``cutover.shadow`` only), not the sample.

The application side writes its events with the app SDK: ``cutover.emit`` into the default
outbox table, the mode column stamped by a :class:`cutover.ModeSwitch` as an application
stamps it. One real Debezium Outbox Event Router connector (shared by the module) routes the
rows by aggregate type, so each test writes a stream of its own and reads it from its own
topic (``<prefix>.<stream>``, three partitions). The shadow side is the team's app as
``shadow.app.handler_consumer`` builds it, in the real runtime on the real Kafka: in the
test's main thread as ``cutover shadow run`` runs a worker, and as ``cutover shadow run
--app`` processes in the kill test; each test has its own consumer group and its own
shadow-store database. Effects in ``async`` call a real notifier: an HTTP server in this
process that logs every call it gets, with its idempotency key.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

import cutover
from cdc.debezium import DatabaseOptions, PostgresConnectorOptions, build_postgres_config
from cdc.errors import ConnectorNotFound
from cutover.modes import ModeSwitch, StaticModes
from cutover.shadow import WorkerContext
from rehearsal.stack.endpoints import Endpoints
from rehearsal.stack.pgadmin import create_database, drop_database
from shadow.app import handler_consumer
from shadow.runtime import ShadowWorker
from tests.integration.shadow import team_app
from tests.integration.shadow.conftest import (
    group_alive,
    kafka_worker,
    read_topic,
    topic_size_of,
    wait_until,
)
from tests.integration.topics import ensure_topics

REPO = Path(__file__).resolve().parents[3]
PARTITIONS = 3
SCHEMA = "shadow"
CONTEXT = "favorite"
APP_REF = "tests.integration.shadow.team_app:app"
CUTOVER = str(Path(sys.executable).with_name("cutover"))
"""The ``cutover`` command of the environment running the tests."""
CONSUMER = team_app.app.name

Emitted = tuple[str, str, str, dict[str, Any]]
"""(event id, event type, aggregate id, payload) of one event written to the outbox."""


# ----------------------------------------------------------------------------- the source
@dataclass
class Source:
    """The application's database: the app SDK's outbox captured by a running connector."""

    endpoints: Endpoints
    database: str
    prefix: str
    modes: StaticModes
    outbox: cutover.Outbox = field(init=False)

    def __post_init__(self) -> None:
        switch = ModeSwitch(self.modes, ttl=0.0, default=cutover.Mode.DUAL)
        self.outbox = cutover.Outbox(mode=switch.provider(CONTEXT))

    def stream(self, name: str) -> str:
        """The topic the connector routes aggregate type ``name`` to (created, 3 partitions)."""
        topic = f"{self.prefix}.{name}"
        ensure_topics(self.endpoints.bootstrap_servers, {topic: PARTITIONS})
        return topic

    def emit(self, stream: str, events: Sequence[tuple[str, str, dict[str, Any]]]) -> list[Emitted]:
        """Write ``(event type, article id, payload)`` events in one transaction, in order."""
        out: list[Emitted] = []
        with psycopg.connect(self.endpoints.dsn(self.database)) as conn, conn.transaction():
            for event_type, key, payload in events:
                event_id = cutover.emit(
                    conn, stream, key, event_type, payload,
                    correlation_id=f"corr-{key}", outbox=self.outbox,
                )  # fmt: skip
                out.append((str(event_id), event_type, key, payload))
        return out


@pytest.fixture(scope="module")
def source(endpoints: Endpoints) -> Iterator[Source]:
    unique = uuid.uuid4().hex[:10]
    database = f"t_team_{unique}"
    create_database(endpoints, database)
    modes = StaticModes({CONTEXT: cutover.Mode.DUAL})
    src = Source(endpoints, database, f"team_it_{unique}", modes)
    with psycopg.connect(endpoints.dsn(database), autocommit=True) as conn:
        conn.execute(src.outbox.ddl())
    name = f"team-it-{unique}"  # not "it-...": the cdc fixtures delete those
    options = PostgresConnectorOptions(
        database=DatabaseOptions(
            "127.0.0.1",
            endpoints.pg_port,
            endpoints.pg_user,
            database,
            endpoints.connector_password,
        ),
        topic_prefix=src.prefix,
        slot_name=src.prefix,
        publication_name=src.prefix,
        outbox=src.outbox.connector_options(src.prefix),
        heartbeat=None,
        snapshot_mode="no_data",
    )
    client = endpoints.connect_client()
    client.create_connector(name, build_postgres_config(options))
    try:
        client.wait_for(name, "RUNNING", timeout_s=90)
        wait_until(lambda: _slot_active(endpoints, database, src.prefix), 60, "slot active")
        yield src
    finally:
        with contextlib.suppress(ConnectorNotFound):
            client.delete_connector(name)
        drop_database(endpoints, database)


def _slot_active(endpoints: Endpoints, database: str, slot: str) -> bool:
    with psycopg.connect(endpoints.dsn(database), autocommit=True) as conn:
        row = conn.execute(
            "SELECT active FROM pg_replication_slots WHERE slot_name = %s", (slot,)
        ).fetchone()
    return bool(row and row[0])


def favorite(article: str, reader: str) -> tuple[str, str, dict[str, Any]]:
    return "article.favorited", article, {"article_id": article, "reader": reader}


def unfavorite(article: str, reader: str) -> tuple[str, str, dict[str, Any]]:
    return "article.unfavorited", article, {"article_id": article, "reader": reader}


def reproduce(endpoints: Endpoints, topic: str, records: Sequence[Any], times: int) -> None:
    """Produce each record ``times`` more, byte for byte, to its own partition."""
    producer = Producer({"bootstrap.servers": endpoints.bootstrap_servers})
    for _ in range(times):
        for m in records:
            producer.produce(
                topic, m.value(), m.key(), partition=m.partition(), headers=m.headers() or []
            )
        producer.poll(0)
    assert producer.flush(30) == 0


# ------------------------------------------------------------------------ the shadow side
@dataclass
class ShadowSide:
    """The team's shadow store (a database of its own) and its consumer group."""

    endpoints: Endpoints
    database: str
    group: str

    @property
    def dsn(self) -> str:
        return self.endpoints.dsn(self.database)

    @property
    def dlq(self) -> str:
        return f"{self.group}.dlq"

    def worker(self, topic: str, **settings: Any) -> ShadowWorker:
        """An in-process worker of the team's handlers, started (subscribed)."""
        ensure_topics(self.endpoints.bootstrap_servers, {self.dlq: 1})
        built = handler_consumer(team_app.app, WorkerContext(self.dsn, SCHEMA, "dual"))
        built.store.ensure_schema()
        return kafka_worker(
            self.endpoints, built.store, built.processor, topic, self.group, **settings
        )

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        """Rows of ``sql`` on the shadow store, the app's tables found by their bare names."""
        with psycopg.connect(self.dsn, options=f"-c search_path={SCHEMA},public") as conn:
            return list(conn.execute(sql).fetchall())

    def count(self, table: str) -> int:
        try:
            return int(self.rows(f"SELECT count(*) FROM {table}")[0][0])
        except psycopg.errors.UndefinedTable:
            return 0

    def log(self) -> list[tuple[Any, ...]]:
        return self.rows("SELECT event_id, article_id, reader, change, mode FROM favorite_log")

    def counts(self) -> dict[str, int]:
        return {
            str(a): int(n)
            for a, n in self.rows("SELECT article_id, favorites FROM favorite_counts")
        }

    def notifications(self) -> list[tuple[Any, ...]]:
        return self.rows("SELECT event_id, outcome FROM notifications")

    def duplicates(self) -> int:
        """Deliveries the runtime skipped as already applied (or already in the batch)."""
        rows = self.rows("SELECT sum(count) FROM delivery_anomalies WHERE kind = 'duplicate'")
        return int(rows[0][0] or 0)

    def committed_to_end(self, topic: str) -> bool:
        """Whether the group's committed offsets reached the end of every partition."""
        probe = Consumer({"bootstrap.servers": self.endpoints.bootstrap_servers,
                          "group.id": self.group})  # fmt: skip
        try:
            parts = [TopicPartition(topic, p) for p in range(PARTITIONS)]
            committed = probe.committed(parts, timeout=10)
            ends = [probe.get_watermark_offsets(p, timeout=10, cached=False)[1] for p in parts]
            return all(max(c.offset, 0) >= end for c, end in zip(committed, ends, strict=True))
        finally:
            probe.close()


@pytest.fixture
def shadow(endpoints: Endpoints, fresh_database: str) -> ShadowSide:
    return ShadowSide(endpoints, fresh_database, f"team-it-{uuid.uuid4().hex[:10]}")


def run_until(
    worker: ShadowWorker,
    done: Callable[[], bool],
    what: str,
    timeout: float = 60,
    alongside: Callable[[], None] | None = None,
) -> None:
    """Run ``worker`` in this thread, the main one, as ``cutover shadow run`` runs it (so a
    handler's timeout can interrupt it), until ``done()``; then it finishes the batch,
    commits and closes. ``alongside`` runs in a thread meanwhile (the application)."""
    deadline = time.monotonic() + timeout
    state = {"next": 0.0, "done": False}

    def should_stop() -> bool:
        now = time.monotonic()
        if now >= deadline:
            return True
        if now >= state["next"]:
            state["next"] = now + 0.2
            state["done"] = done()
        return bool(state["done"])

    failure: list[BaseException] = []
    thread = None
    if alongside is not None:

        def target() -> None:
            try:
                alongside()
            except BaseException as exc:  # re-raised in the test's thread
                failure.append(exc)

        thread = threading.Thread(target=target, name="team-app", daemon=True)
        thread.start()
    worker.run(should_stop)
    if thread is not None:
        thread.join(30)
    if failure:
        raise failure[0]
    assert state["done"], f"timed out after {timeout}s waiting for {what}"


def expected_log(events: Sequence[Emitted], mode: str = "dual") -> list[tuple[Any, ...]]:
    change = {"article.favorited": 1, "article.unfavorited": -1}
    return sorted(
        (eid, key, payload["reader"], change[etype], mode) for eid, etype, key, payload in events
    )


def expected_counts(events: Sequence[Emitted]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for _eid, etype, key, _payload in events:
        counts[key] = counts.get(key, 0) + (1 if etype == "article.favorited" else -1)
    return counts


# ---------------------------------------------------------------------------- the notifier
@dataclass
class Notifier:
    """A real HTTP service the ``async`` effects call; it keeps each call's idempotency key."""

    url: str
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


@pytest.fixture(scope="module")
def notifier() -> Iterator[Notifier]:
    box: list[Notifier] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            box[0].calls.append((self.headers["Idempotency-Key"], body))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"sent")

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    box.append(Notifier(f"http://127.0.0.1:{server.server_address[1]}/notify"))
    thread = threading.Thread(target=server.serve_forever, name="notifier", daemon=True)
    thread.start()
    try:
        yield box[0]
    finally:
        server.shutdown()
        server.server_close()


# ---------------------------------------------------------------------------------- tests
def test_events_emitted_by_the_app_reach_the_handlers_and_build_the_read_model(
    source: Source, shadow: ShadowSide
) -> None:
    topic = source.stream("reads")
    events = source.emit(
        "reads",
        [favorite("a-1", "r-1"), favorite("a-1", "r-2"), favorite("a-2", "r-3"),
         unfavorite("a-1", "r-1"), favorite("a-3", "r-1")],
    )  # fmt: skip
    events += source.emit("reads", [favorite("a-3", "r-2"), favorite("a-3", "r-3")])

    run_until(
        shadow.worker(topic),
        lambda: shadow.count("favorite_log") >= len(events),
        "every event applied",
    )

    assert sorted(shadow.log()) == expected_log(events)
    assert shadow.counts() == {"a-1": 1, "a-2": 1, "a-3": 3}
    favorites = [e for e in events if e[1] == "article.favorited"]
    assert sorted(shadow.notifications()) == sorted((e[0], "intended") for e in favorites)


def test_each_event_is_applied_once_when_delivered_25_more_times(
    source: Source, shadow: ShadowSide
) -> None:
    topic = source.stream("dupes")
    events = source.emit(
        "dupes", [favorite(f"a-{a}", f"r-{r}") for a in range(4) for r in range(3)]
    )
    originals = read_topic(source.endpoints, topic, expected=len(events))
    assert sorted(_header(m, "id") for m in originals) == sorted(e[0] for e in events)
    reproduce(source.endpoints, topic, originals, times=25)

    run_until(
        shadow.worker(topic, batch_size=16),
        lambda: shadow.committed_to_end(topic),
        "all 312 records consumed",
    )

    assert sorted(shadow.log()) == expected_log(events)
    assert shadow.counts() == {f"a-{a}": 3 for a in range(4)}
    assert sorted(shadow.notifications()) == sorted((e[0], "intended") for e in events)
    assert shadow.duplicates() == 25 * len(events)


def test_poison_events_are_dead_lettered_with_their_reason_and_the_partition_goes_on(
    source: Source, shadow: ShadowSide
) -> None:
    topic = source.stream("poison")
    first, invalid, unknown, buggy, last = source.emit(
        "poison",
        [
            favorite("a-1", "r-1"),
            ("article.favorited", "a-1", {"article_id": "a-1"}),  # no reader: fails the contract
            ("article.archived", "a-1", {"article_id": "a-1"}),  # no contract, no handler
            favorite("a-1", team_app.BROKEN_READER),  # the handler raises on every attempt
            favorite("a-1", "r-2"),
        ],
    )  # one aggregate: one partition, in this order

    run_until(
        shadow.worker(topic, max_attempts=3, backoff_base=0.01),
        lambda: (
            shadow.count("favorite_log") >= 2 and topic_size_of(shadow.endpoints, shadow.dlq) >= 3
        ),
        "the events after the poison applied, the poison dead-lettered",
    )
    letters = read_topic(source.endpoints, shadow.dlq, expected=3, timeout=30)

    assert sorted(shadow.log()) == expected_log([first, last])
    assert shadow.counts() == {"a-1": 2}
    by_id = {_header(m, "id"): m for m in letters}
    assert set(by_id) == {invalid[0], unknown[0], buggy[0]}

    def reason(event: Emitted) -> dict[str, str]:
        return {
            k: (v or b"").decode() for k, v in by_id[event[0]].headers() if k.startswith("dlq.")
        }

    assert reason(invalid)["dlq.error.kind"] == "schema_invalid"
    assert "reader" in reason(invalid)["dlq.error.message"]
    assert reason(unknown)["dlq.error.kind"] == "unknown_type"
    assert "article.archived" in reason(unknown)["dlq.error.message"]
    bug = reason(buggy)
    assert (bug["dlq.error.kind"], bug["dlq.error.class"], bug["dlq.attempts"]) == (
        "handler_error",
        "RuntimeError",
        "3",
    )
    assert "no author to notify for a-1" in bug["dlq.error.message"]
    for event in (invalid, unknown, buggy):
        assert reason(event)["dlq.original.topic"] == topic
        assert reason(event)["dlq.consumer"] == CONSUMER
        assert json.loads(by_id[event[0]].value()) == event[3]  # the original, whole


def _header(message: Any, name: str) -> str:
    raw = dict(message.headers())[name].decode()
    return str(json.loads(raw)) if raw.startswith('"') else raw


CRASH_EVENTS = 2000


def test_a_worker_killed_with_sigkill_mid_stream_loses_nothing_and_applies_nothing_twice(
    source: Source, shadow: ShadowSide, tmp_path: Path
) -> None:
    topic = source.stream("crash")
    events: list[Emitted] = []
    for block in range(4):
        events += source.emit(
            "crash",
            [favorite(f"a-{i % 40}", f"r-{block}-{i}") for i in range(CRASH_EVENTS // 4)],
        )
    read_topic(source.endpoints, topic, expected=CRASH_EVENTS)

    first = start_cli_worker(shadow, topic, tmp_path / "first.log", "--batch-size", "10")
    wait_until(lambda: shadow.count("favorite_log") >= 200, 60, "the first worker under way", 0.05)
    os.killpg(first.pid, signal.SIGKILL)  # supervisor and worker: no commit, no close
    assert first.wait(10) == -signal.SIGKILL
    wait_until(lambda: not group_alive(first.pid), 10, "every process of the worker gone")
    applied_at_kill = shadow.count("favorite_log")
    assert applied_at_kill < CRASH_EVENTS, "the worker was killed after it had finished"

    second = start_cli_worker(shadow, topic, tmp_path / "second.log", "--batch-size", "200")
    try:
        wait_until(lambda: shadow.committed_to_end(topic), 120, "the second worker done")
    finally:
        second.send_signal(signal.SIGTERM)
        code = second.wait(60)
    assert code == 0, (tmp_path / "second.log").read_text()[-3000:]

    assert shadow.duplicates() > 0, "the restart redelivered events the first worker applied"
    assert sorted(shadow.log()) == expected_log(events)
    assert shadow.counts() == expected_counts(events)
    assert sorted(shadow.notifications()) == sorted((e[0], "intended") for e in events)
    effects = shadow.rows("SELECT event_id, mode, outcome FROM effects WHERE name = 'notifier'")
    assert sorted(effects) == sorted((e[0], "dual", "recorded") for e in events)


def start_cli_worker(
    shadow: ShadowSide, topic: str, log: Path, *args: str
) -> subprocess.Popen[bytes]:
    """``cutover shadow run --app`` of the team's app as a process group of its own."""
    env = {
        **os.environ,
        "CUTOVER_SHADOW_DSN": shadow.dsn,
        "CUTOVER_SHADOW_BOOTSTRAP": shadow.endpoints.bootstrap_servers,
        "CUTOVER_SHADOW_GROUP": shadow.group,
        "CUTOVER_SHADOW_TOPICS": topic,
        "PYTHONUNBUFFERED": "1",
    }
    ensure_topics(shadow.endpoints.bootstrap_servers, {shadow.dlq: 1})
    with open(log, "ab") as out:
        return subprocess.Popen(
            [CUTOVER, "shadow", "run", "--app", APP_REF, *args],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def test_each_events_stamped_mode_decides_whether_its_effect_is_recorded_or_performed(
    source: Source, shadow: ShadowSide, notifier: Notifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(team_app.NOTIFIER_URL_ENV, notifier.url)
    notifier.calls.clear()
    topic = source.stream("modes")
    stamped: dict[str, str] = {}
    redelivered = threading.Event()

    def application() -> None:
        """Advance, revert, advance, revert while the worker runs; then every event again."""
        for n, mode in enumerate(("dual", "async", "dual", "async", "dual")):
            source.modes.set(CONTEXT, mode)  # what `cutover advance` / `rollback` write
            for event in source.emit(
                "modes", [favorite(f"a-{i % 3}", f"r-{n}-{i}") for i in range(6)]
            ):
                stamped[event[0]] = mode
            time.sleep(0.3)  # the worker takes this block before the next is written
        source.modes.set(CONTEXT, cutover.Mode.DUAL)
        wait_until(lambda: shadow.count("favorite_log") >= len(stamped), 60, "all applied")
        records = read_topic(source.endpoints, topic, expected=len(stamped))
        reproduce(source.endpoints, topic, records, times=2)  # delivered twice more
        redelivered.set()

    try:
        run_until(
            shadow.worker(topic, batch_size=5),  # one worker throughout: no restart
            lambda: redelivered.is_set() and shadow.committed_to_end(topic),
            "every event applied, then delivered twice more",
            timeout=90,
            alongside=application,
        )
    finally:
        source.modes.set(CONTEXT, cutover.Mode.DUAL)

    performed = sorted(eid for eid, mode in stamped.items() if mode == "async")
    assert sorted(key for key, _body in notifier.calls) == sorted(
        f"{eid}:notifier" for eid in performed
    )  # each async event's effect performed once, no dual event's at all
    assert sorted((eid, mode) for eid, _a, _r, _c, mode in shadow.log()) == sorted(stamped.items())
    assert sorted(shadow.notifications()) == sorted(
        (eid, "sent" if mode == "async" else team_app.INTENDED) for eid, mode in stamped.items()
    )
    effects = shadow.rows("SELECT event_id, mode, outcome FROM effects WHERE name = 'notifier'")
    assert sorted(effects) == sorted(
        (eid, mode, "performed" if mode == "async" else "recorded") for eid, mode in stamped.items()
    )
