"""Shadow pipeline throughput: end-to-end events/s of one worker vs the raw consume rate.

One run, one topic (filled once with ``order.created`` records in the outbox router's shape):

* ``raw``        — a bare confluent-kafka consumer, ``consume(num_messages, timeout)`` in a loop;
* ``floor``      — the least any Python worker with a durable effect does, for reference (not a
  ShadowWorker): the same consume loop, ``orjson.loads`` of each value, one ``COPY`` row per
  record (its event id) and a commit per batch, then ``store_offsets``. No validation,
  no handler, no idempotency check: what it reaches bounds what a real worker can;
* ``projection`` — ShadowWorker, order read model only (consume -> decode -> handler -> commit);
* ``full-flow``  — ShadowWorker, the whole dual-mode chain (inventory, payment, shipping, email,
  order read model, five follow-up events into ``shadow.outbox``) per event, written behind
  (the next batch's handlers run while this one's rows are written, as ``cutover shadow run``
  does in ``dual`` mode);
* ``full-flow-serial`` — the same, each batch written before the next is read (the baseline).

Each worker variant uses its own consumer group and its own fresh database on the local stack;
offsets stored after each committed batch, with the worker's default batch size and timeout and
its GC tuning (``shadow.runtime.tune_gc``; ``--default-gc`` to compare), as in production. Every
rate starts its clock after the first batch (group join, warm-up) and counts what follows;
"CPU/event" is the process's CPU time (all threads, librdkafka's included) per event. Run:

    .venv/bin/python bench/bench_shadow.py --events 50000
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson
import psycopg
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from cutover_common.logging import configure_logging
from cutover_common.topics import KafkaTopicAdmin, TopicSpecValue
from legacy_app.orderflow.catalogue import initial_stock
from legacy_app.orderflow.effects import RecordingEffects
from legacy_app.orderflow.processors import FLOW_CONTEXTS, FlowProcessor
from legacy_app.orderflow.samples import order_payload, outbox_headers, outbox_value
from legacy_app.orderflow.store_pg import PostgresStore
from rehearsal.stack.endpoints import load_endpoints
from rehearsal.stack.pgadmin import create_database, drop_database
from shadow.config import ShadowConfig
from shadow.kafka import (
    KafkaConsumerAdapter,
    KafkaProducerAdapter,
    consumer_config,
)
from shadow.runtime import RuntimeSettings, ShadowWorker, tune_gc, tune_switch_interval

PARTITIONS = 6
VARIANTS: tuple[tuple[str, frozenset[str], bool], ...] = (
    ("projection", frozenset({"order"}), True),
    ("full-flow-serial", FLOW_CONTEXTS, False),
    ("full-flow", FLOW_CONTEXTS, True),
)  # name, flow contexts, written behind
GOAL_EVENTS_PER_S = 10_000
GOAL_PCT_OF_RAW = 30.0


def fill(bootstrap: str, topic: str, n: int) -> float:
    rng = random.Random(1)
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "linger.ms": 20,
            "batch.num.messages": 10000,
            "queue.buffering.max.messages": 500000,
        }
    )
    started = time.perf_counter()
    for i in range(n):
        lines = [
            (f"SKU-{rng.randint(1, 50):04d}", rng.randint(1, 3)) for _ in range(rng.randint(1, 3))
        ]
        method = "card_declined" if i % 10 == 0 else "card"
        p = order_payload(
            f"bench-{i:07d}", lines, payment_method=method, email=f"c{i % 997}@example.com"
        )
        producer.produce(
            topic,
            key=p["order_id"].encode(),
            value=outbox_value(p),
            headers=list(outbox_headers(str(uuid.uuid4()), "order.created", f"corr-{i}")),
        )
        if i % 1000 == 0:
            producer.poll(0)
    assert producer.flush(120) == 0
    return time.perf_counter() - started


class _FromFirstBatch:
    """Counts records, timed from the end of the first batch (group join, warm-up), as for
    the worker."""

    def __init__(self) -> None:
        self.got = 0
        self.first: float | None = None
        self.first_got = 0

    def add(self, n: int) -> None:
        self.got += n
        if n and self.first is None:
            self.first, self.first_got = time.perf_counter(), self.got

    def result(self) -> dict[str, Any]:
        elapsed = time.perf_counter() - (self.first or time.perf_counter())
        return {
            "events": self.got,
            "seconds": round(elapsed, 3),
            "events_per_s": round((self.got - self.first_got) / elapsed),
        }


def raw_rate(bootstrap: str, topic: str, n: int, batch: int) -> dict[str, Any]:
    c = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bench-raw-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    c.subscribe([topic])
    count = _FromFirstBatch()
    while count.got < n:
        count.add(sum(1 for m in c.consume(batch, 1.0) if m.error() is None))
    result = count.result()
    c.close()
    return result


def floor_rate(bootstrap: str, dsn: str, topic: str, n: int, batch: int) -> dict[str, Any]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE floor_seen (event_id text PRIMARY KEY, n int NOT NULL)")
    c = Consumer(consumer_config(bootstrap, f"bench-floor-{uuid.uuid4().hex[:8]}"))
    c.subscribe([topic])
    count = _FromFirstBatch()
    with psycopg.connect(dsn) as conn:
        while count.got < n:
            msgs = [m for m in c.consume(batch, 1.0) if m.error() is None]
            rows = []
            positions: dict[int, int] = {}
            for m in msgs:
                data = orjson.loads(m.value())
                rows.append(f"{m.topic()}/{m.partition()}/{m.offset()}\t{len(data)}\n")
                positions[m.partition()] = m.offset() + 1
            if rows:
                with conn.transaction(), conn.cursor().copy("COPY floor_seen FROM STDIN") as cp:
                    cp.write("".join(rows).encode())
                offsets = [TopicPartition(topic, p, o) for p, o in positions.items()]
                c.store_offsets(offsets=offsets)
            count.add(len(msgs))
    result = count.result()
    c.close()
    return result


def _worker(
    bootstrap: str,
    dsn: str,
    topic: str,
    batch: int,
    contexts: frozenset[str],
    group: str,
    write_behind: bool = True,
) -> ShadowWorker:
    store = PostgresStore(dsn)
    store.ensure_schema(initial_stock())
    return ShadowWorker(
        KafkaConsumerAdapter(consumer_config(bootstrap, group)),
        KafkaProducerAdapter(bootstrap),
        store,
        FlowProcessor(RecordingEffects(), contexts=contexts),
        RuntimeSettings(
            (topic,),
            f"{group}.dlq",
            batch_size=batch,
            batch_timeout=ShadowConfig.__dataclass_fields__["batch_timeout"].default,
        ),
        writer=PostgresStore(dsn) if write_behind else None,
    )


def _scale_child(args: tuple[str, str, str, int, frozenset[str], str], stop: Any) -> None:
    configure_logging(level="WARNING", stream=sys.stderr)
    worker = _worker(*args)
    tune_gc()  # as every `cutover shadow run` worker process does
    tune_switch_interval()
    worker.start()
    worker.run(stop.is_set)


def scale_rate(
    bootstrap: str,
    dsn: str,
    topic: str,
    n: int,
    batch: int,
    contexts: frozenset[str],
    processes: int,
) -> dict[str, Any]:
    """``processes`` worker processes in one group (they share the partitions), timed from the
    first committed batch until every event is applied (counted in ``processed_events``)."""
    group = f"bench-shadow-{uuid.uuid4().hex[:8]}"
    PostgresStore(dsn).ensure_schema(initial_stock())
    ctx = mp.get_context("spawn")
    stop = ctx.Event()
    args = (bootstrap, dsn, topic, batch, contexts, group)
    procs = [ctx.Process(target=_scale_child, args=(args, stop)) for _ in range(processes)]
    for proc in procs:
        proc.start()
    count = _FromFirstBatch()
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            while count.got < n:
                row = conn.execute("SELECT count(*) FROM shadow.processed_events").fetchone()
                count.add((int(row[0]) if row else 0) - count.got)
                if not any(p.is_alive() for p in procs):
                    raise RuntimeError("every bench worker process exited early")
                time.sleep(0.05)
        result = count.result()
    finally:
        stop.set()
        for proc in procs:
            proc.join(60)
    return {**result, "processes": processes}


def worker_rate(
    bootstrap: str,
    dsn: str,
    topic: str,
    n: int,
    batch: int,
    contexts: frozenset[str],
    write_behind: bool,
) -> dict[str, Any]:
    group = f"bench-shadow-{uuid.uuid4().hex[:8]}"
    worker = _worker(bootstrap, dsn, topic, batch, contexts, group, write_behind)
    worker.start()
    done = 0
    first: float | None = None
    cpu_first = 0.0
    first_done = 0
    batches = 0
    step_cpu: list[float] = []  # the worker thread's CPU per consumed record, step by step
    while done < n:
        thread_cpu = time.thread_time()
        report = worker.step()
        if report.consumed and first is not None:
            step_cpu.append(1e6 * (time.thread_time() - thread_cpu) / report.consumed)
        done += report.statuses.get("done", 0)
        if report.consumed and first is None:
            first, cpu_first = time.perf_counter(), time.process_time()
            # the first batch is not timed: with write-behind it settles in a later step
            first_done = report.consumed
        batches += 1 if report.consumed else 0
    elapsed = time.perf_counter() - (first or time.perf_counter())
    cpu = time.process_time() - cpu_first
    worker.close()
    timed = done - first_done  # the clock starts after the first batch (group join, warm-up)
    return {
        "write_behind": write_behind,
        "redone_serially": worker.redone_behind,
        "events": done,
        "seconds": round(elapsed, 3),
        "events_per_s": round(timed / elapsed),
        "cpu_us_per_event": round(1e6 * cpu / timed, 1),
        "step_cpu_us_per_event": _deciles(step_cpu),
        "batches": batches,
        "batch_size": batch,
    }


def _deciles(values: list[float]) -> dict[str, float]:
    """p10 / p50 / p90 of ``values`` (the spread of the worker thread's CPU per record over a
    run: on a shared host the same code and input cost more in some stretches than others)."""
    if len(values) < 2:
        return {}
    cuts = statistics.quantiles(values, n=10)
    return {"p10": round(cuts[0], 1), "p50": round(statistics.median(values), 1),
            "p90": round(cuts[-1], 1)}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50000)
    parser.add_argument(
        "--batch-size",
        type=int,
        default=ShadowConfig.__dataclass_fields__["batch_size"].default,
        help="records per batch (default: the shadow worker's default)",
    )
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--processes",
        type=int,
        default=0,
        help="also run the full flow with this many worker processes in one group (scale-out)",
    )
    parser.add_argument(
        "--default-gc",
        action="store_true",
        help="keep Python's default GC thresholds (workers tune them: shadow.runtime.tune_gc)",
    )
    parser.add_argument(
        "--default-switch-interval",
        action="store_true",
        help="keep Python's 5 ms GIL switch interval (write-behind workers lower it)",
    )
    args = parser.parse_args(argv)
    configure_logging(level="WARNING", stream=sys.stderr)
    if not args.default_gc:
        tune_gc()  # as every `cutover shadow run` worker process does
    if not args.default_switch_interval:
        tune_switch_interval()  # as `cutover shadow run` does for a worker that writes behind
    ep = load_endpoints()
    topic = f"bench-shadow-{uuid.uuid4().hex[:8]}.order"
    KafkaTopicAdmin({"bootstrap.servers": ep.bootstrap_servers}).ensure_topics(
        [TopicSpecValue(topic, PARTITIONS)]
    )
    try:
        return _run(ep, topic, args)
    finally:
        admin = AdminClient({"bootstrap.servers": ep.bootstrap_servers})
        for fut in admin.delete_topics([topic]).values():
            fut.result(30)


def _run(ep: Any, topic: str, args: argparse.Namespace) -> int:
    fill_s = fill(ep.bootstrap_servers, topic, args.events)
    results: dict[str, Any] = {
        "events": args.events,
        "partitions": PARTITIONS,
        "fill_seconds": round(fill_s, 2),
    }
    results["raw"] = raw_rate(ep.bootstrap_servers, topic, args.events, args.batch_size)
    db = f"bench_{uuid.uuid4().hex[:10]}"
    create_database(ep, db)
    try:
        results["floor"] = floor_rate(
            ep.bootstrap_servers, ep.dsn(db), topic, args.events, args.batch_size
        )
    finally:
        drop_database(ep, db)
    results["floor"]["pct_of_raw"] = round(
        100 * results["floor"]["events_per_s"] / results["raw"]["events_per_s"], 1
    )
    for name, contexts, behind in VARIANTS:
        db = f"bench_{uuid.uuid4().hex[:10]}"
        create_database(ep, db)
        try:
            results[name] = worker_rate(
                ep.bootstrap_servers, ep.dsn(db), topic, args.events, args.batch_size, contexts,
                behind,
            )  # fmt: skip
        finally:
            drop_database(ep, db)
        results[name]["pct_of_raw"] = round(
            100 * results[name]["events_per_s"] / results["raw"]["events_per_s"], 1
        )
    if args.processes > 1:
        db = f"bench_{uuid.uuid4().hex[:10]}"
        create_database(ep, db)
        try:
            results["full-flow-scaled"] = scale_rate(
                ep.bootstrap_servers, ep.dsn(db), topic, args.events, args.batch_size,
                FLOW_CONTEXTS, args.processes,
            )  # fmt: skip
        finally:
            drop_database(ep, db)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(f"topic {topic}: {args.events} events, {PARTITIONS} partitions")
        for name in ("raw", "floor", *(v[0] for v in VARIANTS)):
            r = results[name]
            pct = f" ({r['pct_of_raw']}% of raw)" if "pct_of_raw" in r else ""
            cpu = f", {r['cpu_us_per_event']} µs CPU/event" if "cpu_us_per_event" in r else ""
            spread = r.get("step_cpu_us_per_event")
            if spread:
                cpu += (
                    f"; worker thread per step p10/p50/p90 {spread['p10']}/{spread['p50']}/"
                    f"{spread['p90']} µs"
                )
            print(
                f"{name:>11}: {r['events_per_s']:>9,} events/s  "
                f"[{r['events']} in {r['seconds']}s{cpu}]{pct}"
            )
        serial, behind = results["full-flow-serial"], results["full-flow"]
        print(
            f"write-behind / serial (full flow): "
            f"{behind['events_per_s'] / serial['events_per_s']:.2f}x; batches redone serially: "
            f"{behind['redone_serially']}"
        )
        for name in ("projection", "full-flow"):
            r = results[name]
            rate_ok = r["events_per_s"] >= GOAL_EVENTS_PER_S
            share_ok = r["pct_of_raw"] >= GOAL_PCT_OF_RAW
            print(
                f"goal {name}: >= {GOAL_EVENTS_PER_S:,} events/s "
                f"{'met' if rate_ok else 'NOT met'}, >= {GOAL_PCT_OF_RAW:.0f} % of raw "
                f"{'met' if share_ok else 'NOT met'}"
            )
        scaled = results.get("full-flow-scaled")
        if scaled:
            print(
                f"full-flow x{scaled['processes']} processes: {scaled['events_per_s']:>9,} "
                f"events/s  [{scaled['events']} in {scaled['seconds']}s] "
                "(scale-out, not the per-process goal)"
            )
        print(f"conditions: batch {args.batch_size}, load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
