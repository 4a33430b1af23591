"""The shadow pipeline's commands as plain functions (the CLI is a thin layer over them).

Each runs a team's app (``config.app``, ``module:attribute``; :mod:`shadow.loader`) per
consumer: the app's handlers, and each advanced consumer, in its own consumer group.

* :func:`run` — start workers (``workers`` processes per consumer; they share partitions
  through the group protocol) until SIGTERM/SIGINT;
* :func:`replay` — point the consumers' groups at ``since`` (``offsets_for_times``) and
  forget what their stores derived from events since then, so the next run rebuilds it;
  idempotency makes the rebuilt outcomes equal the originals;
* :func:`status` — lag per partition and group (from the log start, in messages and in
  ms), records deleted unread (``expired``), partitions a group is stuck at
  (:mod:`shadow.stuck`), dead-lettered records, anomalies, rows.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import FrameType
from typing import TYPE_CHECKING, Any, TextIO

import structlog

from cutover.shadow import Consumer, ShadowApp
from shadow.config import ShadowConfig
from shadow.dlq_payloads import PgDeadLetterPayloads
from shadow.errors import KafkaOperationError
from shadow.kafka import (
    KafkaConsumerAdapter,
    KafkaProducerAdapter,
    consumer_config,
    reset_offsets_to_time,
    stuck_notes,
    topic_size,
)
from shadow.loader import AppConsumer, build_consumer, consumers_of, load_app
from shadow.metrics import Metrics
from shadow.runtime import RuntimeSettings, ShadowWorker, tune_gc, tune_switch_interval

if TYPE_CHECKING:
    from comparators.position import PipelinePosition

log = structlog.get_logger(__name__)


def settings_for(config: ShadowConfig, entry: AppConsumer) -> RuntimeSettings:
    """Runtime settings of one consumer (its topics, its group's dead-letter topic)."""
    return RuntimeSettings(
        topics=entry.topics,
        dlq_topic=config.dead_letter_topic(entry.group),
        batch_size=config.batch_size,
        batch_timeout=config.batch_timeout,
        max_attempts=config.max_attempts,
        dlq_max_bytes=config.dlq_max_bytes,
    )


def build_worker(
    config: ShadowConfig, app: ShadowApp, entry: AppConsumer, *, metrics: Metrics | None = None
) -> ShadowWorker:
    """A worker of ``entry`` wired to the real Kafka and the consumer's store (schema ensured)."""
    consumer: Consumer = build_consumer(app, entry, config.context())
    payloads = PgDeadLetterPayloads(config.dsn.reveal(), consumer.store.schema or config.schema)
    payloads.ensure_schema()
    worker = ShadowWorker(
        KafkaConsumerAdapter(consumer_config(config.bootstrap_servers, entry.group)),
        KafkaProducerAdapter(config.bootstrap_servers),
        consumer.store,
        consumer.processor,
        settings_for(config, entry),
        metrics=metrics,
        writer=consumer.writer,
        payloads=payloads,
    )
    worker.start()
    return worker


def _entry(app: ShadowApp, config: ShadowConfig, name: str) -> AppConsumer:
    return next(c for c in consumers_of(app, config) if c.name == name)


def _install_stop(event: threading.Event) -> None:
    def handler(signum: int, _frame: FrameType | None) -> None:
        log.info("stop_requested", signal=signum)
        event.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def run_worker(config: ShadowConfig, consumer: str, *, idle_stop: float | None = None) -> None:
    """Run one worker of the app's ``consumer`` in this process until SIGTERM/SIGINT: finish
    the batch, commit, close."""
    stop = threading.Event()
    _install_stop(stop)
    app = load_app(config.app)
    entry = _entry(app, config, consumer)
    metrics = Metrics()
    if config.metrics_port is not None:
        metrics.serve(config.metrics_port, config.metrics_host)
    worker = build_worker(config, app, entry, metrics=metrics)
    tune_gc()
    if worker.writer is not None:
        tune_switch_interval()
    log.info(
        "worker_started",
        app=app.name,
        consumer=entry.name,
        group=entry.group,
        topics=list(entry.topics),
    )
    worker.run(stop.is_set, idle_stop=idle_stop)


PARENT_CHECK_S = 0.5


def _stop_when_orphaned(
    parent: int, interval: float = PARENT_CHECK_S, until: threading.Event | None = None
) -> threading.Thread:
    """Watch the supervisor: once this process is re-parented (the supervisor died, even by
    SIGKILL, which it cannot forward), SIGTERM ourselves so the worker finishes its batch,
    commits and closes instead of running on unsupervised. ``until`` ends the watch."""
    quit_watch = until or threading.Event()

    def watch() -> None:
        while os.getppid() == parent:
            if quit_watch.wait(interval):
                return
        log.warning("supervisor_gone", supervisor_pid=parent)
        os.kill(os.getpid(), signal.SIGTERM)

    thread = threading.Thread(target=watch, name="shadow-supervisor-watch", daemon=True)
    thread.start()
    return thread


def _child(
    config: ShadowConfig, consumer: str, index: int, idle_stop: float | None, parent: int
) -> None:
    from cutover_common.logging import configure_logging

    configure_logging(json=True)
    _stop_when_orphaned(parent)
    port = None if config.metrics_port is None else config.metrics_port + index
    run_worker(config.with_overrides(metrics_port=port), consumer, idle_stop=idle_stop)


def run(
    config: ShadowConfig, *, workers: int = 1, out: TextIO, idle_stop: float | None = None
) -> int:
    """Run ``workers`` processes per consumer of the app; returns the number of processes
    that failed. One worker of one consumer runs in this process."""
    entries = consumers_of(load_app(config.app), config)
    ensure_dead_letter_topics(config, entries)
    if workers == 1 and len(entries) == 1:
        entry = entries[0]
        out.write(
            f"shadow worker: {entry.name} in group {entry.group}, "
            f"topics {', '.join(entry.topics)}\n"
        )
        run_worker(config, entry.name, idle_stop=idle_stop)
        return 0
    ctx = mp.get_context("spawn")
    procs: list[Any] = []
    for entry in entries:
        for i in range(workers):
            index = len(procs)
            proc = ctx.Process(
                target=_child,
                args=(config, entry.name, index, idle_stop, os.getpid()),
                name=f"shadow-{entry.name}-{i}",
            )
            proc.start()
            procs.append(proc)
            out.write(f"started {proc.name} (pid {proc.pid}) in group {entry.group}\n")
    stop = threading.Event()
    _install_stop(stop)
    while any(p.is_alive() for p in procs):
        if stop.wait(0.5):
            for p in procs:
                if p.is_alive() and p.pid is not None:
                    p.terminate()  # SIGTERM: the child finishes its batch, commits and closes
            break
    for p in procs:
        p.join()
    return sum(1 for p in procs if p.exitcode not in (0, -signal.SIGTERM))


def ensure_dead_letter_topics(config: ShadowConfig, entries: Sequence[AppConsumer]) -> list[str]:
    """Create each consumer's dead-letter topic where missing (one partition): brokers create
    no topic on first use, and a poison message must have somewhere to go. Returns the names
    created."""
    from cutover_common.topics import KafkaTopicAdmin, TopicSpecValue

    admin = KafkaTopicAdmin({"bootstrap.servers": config.bootstrap_servers})
    specs = [TopicSpecValue(config.dead_letter_topic(e.group), 1) for e in entries]
    created = admin.ensure_topics(specs)
    if created:
        log.info("dead_letter_topics_created", topics=created)
    return created


@dataclass(frozen=True, slots=True)
class ReplayReport:
    since: datetime
    offsets: dict[str, dict[str, int]]
    """Per consumer group, the offset each partition was moved to."""
    forgotten: dict[str, int]
    """Per consumer, what its store forgot (the store's unit: e.g. aggregates)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat(),
            "offsets": self.offsets,
            "forgotten": self.forgotten,
        }


def floor_minute(ts: datetime) -> datetime:
    """``ts`` in UTC truncated to the minute (replays start on a whole minute)."""
    return ts.astimezone(UTC).replace(second=0, microsecond=0)


def _close(consumer: Consumer) -> None:
    consumer.store.close()
    if consumer.writer is not None:
        consumer.writer.close()


def replay(config: ShadowConfig, since: datetime, *, out: TextIO) -> ReplayReport:
    """Reset every selected consumer's group to ``since`` (floored to the minute) and make its
    store forget what it derived from events since then.

    Stop the workers first: Kafka refuses to move the offsets of a group with members.
    """
    start = floor_minute(since)
    since_ms = int(start.timestamp() * 1000)
    app = load_app(config.app)
    offsets: dict[str, dict[str, int]] = {}
    forgotten: dict[str, int] = {}
    for entry in consumers_of(app, config):
        moved = reset_offsets_to_time(config.bootstrap_servers, entry.group, entry.topics, since_ms)
        offsets[entry.group] = {f"{t}[{p}]": o for (t, p), o in sorted(moved.items())}
        consumer = build_consumer(app, entry, config.context())
        try:
            forgotten[entry.name] = consumer.store.rebuild_since(start)
        finally:
            _close(consumer)
    report = ReplayReport(start, offsets, forgotten)
    out.write(
        f"replay from {start.isoformat()}: "
        + ", ".join(f"{name} forgot {n}" for name, n in forgotten.items())
        + f"; offsets reset for {', '.join(offsets)}\n"
    )
    return report


def status(config: ShadowConfig) -> dict[str, Any]:
    """Lag per partition and group (from the log start, in messages and in time), records
    deleted unread (``expired``), dead-lettered records, anomalies and row counts, for every
    selected consumer of the app."""
    from comparators.position_kafka import read_position

    app = load_app(config.app)
    entries = consumers_of(app, config)
    conf = {"bootstrap.servers": config.bootstrap_servers}
    groups = {e.group: [read_position(conf, t, e.group) for t in e.topics] for e in entries}
    stuck = {e.group: stuck_notes(conf, e.group, e.topics) for e in entries}
    dead: dict[str, int] = {}
    for entry in entries:
        topic = config.dead_letter_topic(entry.group)
        try:
            dead[topic] = topic_size(config.bootstrap_servers, topic)
        except KafkaOperationError:
            dead[topic] = 0
    anomalies: dict[str, dict[str, int]] = {}
    rows: dict[str, int] = {}
    for entry in entries:  # consumers sharing a store report the same tables
        consumer = build_consumer(app, entry, config.context())
        try:
            for context, kinds in consumer.store.anomaly_counts().items():
                anomalies.setdefault(context, {}).update(kinds)
            rows.update(consumer.store.table_counts())
        finally:
            _close(consumer)
    return {
        **lag_section(groups),
        "stuck": stuck,
        "dead_letter_topic": next(iter(dead)),
        "dead_lettered": sum(dead.values()),
        "dead_letters": dead,
        "anomalies": anomalies,
        "rows": rows,
    }


def lag_section(groups: Mapping[str, Sequence[PipelinePosition]]) -> dict[str, Any]:
    """Per group, its partitions (committed, log start, high, lag, expired) and its totals:
    lag in messages, lag in ms (age of the oldest record it has not consumed, 0 when none is
    behind), records deleted before it read them, live members."""
    lag: dict[str, list[dict[str, Any]]] = {}
    totals: dict[str, dict[str, Any]] = {}
    for group, positions in groups.items():
        lag[group] = [
            {
                "topic": pos.topic,
                "partition": p.partition,
                "committed": p.committed,
                "log_start": p.log_start,
                "high": p.high,
                "lag": p.lag_messages,
                "expired": p.expired,
            }
            for pos in positions
            for p in pos.partitions
        ]
        members = [pos.members for pos in positions]
        totals[group] = {
            "lag_messages": sum(pos.lag_messages for pos in positions),
            "lag_ms": round(max((pos.lag_ms for pos in positions), default=0.0), 1),
            "expired": sum(pos.expired for pos in positions),
            "members": None if None in members else max((m or 0 for m in members), default=0),
        }
    return {
        "lag": lag,
        "groups": totals,
        "total_lag": sum(t["lag_messages"] for t in totals.values()),
        "total_expired": sum(t["expired"] for t in totals.values()),
        "lag_ms": max((t["lag_ms"] for t in totals.values()), default=0.0),
    }
