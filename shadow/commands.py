"""The shadow pipeline's commands as plain functions (the CLI is a thin layer over them).

* :func:`run` — start workers (``workers`` processes per consumer group; they
  share partitions through the group protocol) until SIGTERM/SIGINT;
* :func:`replay` — point the groups at ``since`` (``offsets_for_times``) and
  forget what the shadow store derived from events since then, so the next run
  rebuilds it; idempotency makes the rebuilt outcomes equal the originals;
* :func:`status` — lag per partition and group (from the log start, in messages and in
  ms), records deleted unread (``expired``), dead-lettered records, anomalies, rows.
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

from legacy_app.orderflow.store_pg import PostgresStore
from shadow.config import ShadowConfig, WorkerKind, build_worker
from shadow.errors import KafkaOperationError
from shadow.kafka import reset_offsets_to_time, topic_size
from shadow.metrics import Metrics
from shadow.runtime import tune_gc, tune_switch_interval

if TYPE_CHECKING:
    from comparators.position import PipelinePosition

log = structlog.get_logger(__name__)


def _install_stop(event: threading.Event) -> None:
    def handler(signum: int, _frame: FrameType | None) -> None:
        log.info("stop_requested", signal=signum)
        event.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def run_worker(config: ShadowConfig, kind: WorkerKind, *, idle_stop: float | None = None) -> None:
    """Run one worker in this process until SIGTERM/SIGINT: finish the batch, commit, close."""
    stop = threading.Event()
    _install_stop(stop)
    metrics = Metrics()
    if config.metrics_port is not None:
        metrics.serve(config.metrics_port)
    worker = build_worker(config, kind, metrics=metrics)
    tune_gc()
    if worker.writer is not None:
        tune_switch_interval()
    log.info("worker_started", kind=kind, group=config.group_for(kind), topics=list(config.topics))
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
    config: ShadowConfig, kind: WorkerKind, index: int, idle_stop: float | None, parent: int
) -> None:
    from cutover_common.logging import configure_logging

    configure_logging(json=True)
    _stop_when_orphaned(parent)
    port = None if config.metrics_port is None else config.metrics_port + index
    run_worker(config.with_overrides(metrics_port=port), kind, idle_stop=idle_stop)


def run(
    config: ShadowConfig, *, workers: int = 1, out: TextIO, idle_stop: float | None = None
) -> int:
    """Run ``workers`` processes per consumer group; returns the number of processes that failed."""
    kinds = config.kinds()
    if workers == 1 and len(kinds) == 1:
        out.write(
            f"shadow worker: group {config.group_for(kinds[0])}, "
            f"topics {', '.join(config.topics)}\n"
        )
        run_worker(config, kinds[0], idle_stop=idle_stop)
        return 0
    ctx = mp.get_context("spawn")
    procs: list[Any] = []
    for kind in kinds:
        for i in range(workers):
            index = len(procs)
            proc = ctx.Process(
                target=_child,
                args=(config, kind, index, idle_stop, os.getpid()),
                name=f"shadow-{kind}-{i}",
            )
            proc.start()
            procs.append(proc)
            out.write(f"started {proc.name} (pid {proc.pid}) in group {config.group_for(kind)}\n")
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


@dataclass(frozen=True, slots=True)
class ReplayReport:
    since: datetime
    offsets: dict[str, dict[str, int]]
    orders_forgotten: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat(),
            "offsets": self.offsets,
            "orders_forgotten": self.orders_forgotten,
        }


def floor_minute(ts: datetime) -> datetime:
    """``ts`` in UTC truncated to the minute (analytics buckets are whole minutes)."""
    return ts.astimezone(UTC).replace(second=0, microsecond=0)


def replay(config: ShadowConfig, since: datetime, *, out: TextIO) -> ReplayReport:
    """Reset every group's offsets to ``since`` (floored to the minute) and forget derived state.

    Stop the workers first: Kafka refuses to move the offsets of a group with members.
    """
    start = floor_minute(since)
    since_ms = int(start.timestamp() * 1000)
    offsets: dict[str, dict[str, int]] = {}
    for kind in config.kinds():
        group = config.group_for(kind)
        moved = reset_offsets_to_time(config.bootstrap_servers, group, config.topics, since_ms)
        offsets[group] = {f"{t}[{p}]": o for (t, p), o in sorted(moved.items())}
    store = PostgresStore(config.dsn.reveal(), config.schema)
    try:
        store.ensure_schema()
        forgotten = store.rebuild_since(start)
    finally:
        store.close()
    report = ReplayReport(start, offsets, forgotten)
    out.write(
        f"replay from {start.isoformat()}: {forgotten} order(s) to rebuild; "
        f"offsets reset for {', '.join(offsets)}\n"
    )
    return report


def status(config: ShadowConfig) -> dict[str, Any]:
    """Lag per partition and group (from the log start, in messages and in time), records
    deleted unread (``expired``), dead-lettered records, anomalies and row counts."""
    from comparators.position_kafka import read_position

    conf = {"bootstrap.servers": config.bootstrap_servers}
    groups = {
        config.group_for(kind): [
            read_position(conf, topic, config.group_for(kind)) for topic in config.topics
        ]
        for kind in config.kinds()
    }
    try:
        dead = topic_size(config.bootstrap_servers, config.dead_letter_topic)
    except KafkaOperationError:
        dead = 0
    store = PostgresStore(config.dsn.reveal(), config.schema)
    try:
        store.ensure_schema()
        anomalies = store.anomaly_counts()
        rows = store.table_counts()
    finally:
        store.close()
    return {
        **lag_section(groups),
        "dead_letter_topic": config.dead_letter_topic,
        "dead_lettered": dead,
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
