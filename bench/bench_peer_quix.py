"""Peer benchmark: the same idempotent read-model projection with cutover and with quixstreams.

One topic (6 partitions by default) is filled once with ``item.viewed`` records in the Debezium
Outbox Event Router's shape (value = payload JSON; ``id``, ``type``, ``correlation_id``,
``mode`` headers; key = item id), ``--duplicates`` percent of them sent a second time with the
same event id (a redelivery). Both sides project them into ``item_minute`` (views and amount
per item per minute of the event's ``at``), idempotently: an event delivered twice counts once.

* ``cutover`` — a :class:`cutover.shadow.ShadowApp` handler using the batch form
  (``Handle.write``) under the shadow runtime (``bench/peer_quix/cutover_app.py``): the
  event id is claimed in the same transaction as the batch's writes;
* ``quix`` — a quixstreams application with a ``BatchingSink`` that claims the event ids in
  a dedupe table in the same transaction as its upserts (``bench/peer_quix/quix_app.py``),
  in its own virtualenv (``bench/peer_quix/setup.sh``).

Each run starts the side as a subprocess in its own consumer group on its own fresh database,
and times both the same way: the clock starts when the side's code gets its first record
(each side writes that wall-clock time to a file; group join and start-up are not timed) and
stops when a poller, reading ``sum(views)`` of the side's table every 50 ms, sees every
distinct event applied; then the side gets SIGTERM and its table is compared with the
expected aggregates computed here. Sides alternate, the first
side alternating from run to run. Run:

    .venv/bin/python bench/bench_peer_quix.py --events 100000 --runs 5

(it runs ``bench/peer_quix/setup.sh`` first when the quixstreams venv is missing).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

from cutover_common.topics import KafkaTopicAdmin, TopicSpecValue
from rehearsal.stack.endpoints import Endpoints, load_endpoints
from rehearsal.stack.pgadmin import create_database, drop_database

ROOT = Path(__file__).resolve().parents[1]
QUIX_VENV = ROOT / ".cache" / "quix-venv"
ITEMS = 500
MINUTES = 20
BASE = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
GOAL_RATIO = 2.0
POLL_S = 0.05
Expected = dict[tuple[str, str], tuple[int, Decimal]]


@dataclass(frozen=True, slots=True)
class Record:
    event_id: str
    item_id: str
    at: str
    amount: str

    def value(self) -> bytes:
        return json.dumps(
            {"item_id": self.item_id, "at": self.at, "amount": self.amount},
            separators=(",", ":"),
        ).encode()


def records(n: int, duplicates_pct: float, seed: int = 7) -> Iterator[Record]:
    """``n`` distinct events, then about ``duplicates_pct`` % of them again (same id, same
    payload, so the same key and partition), interleaved after their first copy."""
    rng = random.Random(seed)
    sent: list[Record] = []
    for i in range(n):
        at = BASE + timedelta(seconds=MINUTES * 60 * i / n, microseconds=rng.randint(0, 999))
        rec = Record(
            str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            f"item-{rng.randint(1, ITEMS):04d}",
            at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            f"{rng.randint(100, 9999) / 100:.2f}",
        )
        sent.append(rec)
        yield rec
        if rng.random() * 100 < duplicates_pct:
            yield sent[rng.randrange(max(0, len(sent) - 5000), len(sent))]


def expected_rows(n: int, duplicates_pct: float) -> Expected:
    seen: set[str] = set()
    rows: Expected = {}
    for rec in records(n, duplicates_pct):
        if rec.event_id in seen:
            continue
        seen.add(rec.event_id)
        key = (rec.item_id, rec.at[:16] + ":00Z")
        views, amount = rows.get(key, (0, Decimal("0")))
        rows[key] = (views + 1, amount + Decimal(rec.amount))
    return rows


def fill(bootstrap: str, topic: str, n: int, duplicates_pct: float) -> int:
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "linger.ms": 20,
            "batch.num.messages": 10000,
            "queue.buffering.max.messages": 500000,
        }
    )
    sent = 0
    for rec in records(n, duplicates_pct):
        headers = [
            ("id", rec.event_id.encode()),
            ("type", b"item.viewed"),
            ("correlation_id", f"corr-{sent}".encode()),
            ("mode", b"dual"),
        ]
        producer.produce(topic, key=rec.item_id.encode(), value=rec.value(), headers=headers)
        sent += 1
        if sent % 1000 == 0:
            producer.poll(0)
    if producer.flush(120) != 0:
        raise RuntimeError("the producer did not deliver every record in 120 s")
    return sent


@dataclass(frozen=True, slots=True)
class Side:
    name: str
    argv: tuple[str, ...]
    table: str  # the side's item_minute, schema-qualified


def sides(ep: Endpoints, topic: str, args: argparse.Namespace) -> dict[str, Any]:
    def quix(group: str, dsn: str) -> Side:
        argv = (
            str(Path(args.quix_venv) / "bin" / "python"),
            str(ROOT / "bench" / "peer_quix" / "quix_app.py"),
            *("--broker", ep.bootstrap_servers, "--topic", topic, "--group", group),
            *("--dsn", dsn, "--commit-interval", str(args.quix_commit_interval)),
            *("--commit-every", str(args.quix_commit_every)),
        )
        return Side("quix", argv, "public.item_minute")

    def cutover(group: str, dsn: str) -> Side:
        argv = (
            sys.executable,
            str(ROOT / "bench" / "peer_quix" / "cutover_app.py"),
            *("--broker", ep.bootstrap_servers, "--topic", topic, "--group", group),
            *("--dsn", dsn),
        )
        return Side("cutover", argv, "shadow.item_minute")

    return {"cutover": cutover, "quix": quix}


def _applied(conn: psycopg.Connection[Any], table: str) -> int:
    if conn.execute("SELECT to_regclass(%s)", (table,)).fetchone() == (None,):
        return 0
    row = conn.execute(f"SELECT coalesce(sum(views), 0) FROM {table}").fetchone()
    return int(row[0]) if row else 0


def run_side(side: Side, dsn: str, distinct: int, timeout: float) -> dict[str, Any]:
    """Start the side, time it from the first record its code got to the last event applied
    (both read here with the wall clock), stop it."""
    mark = Path(tempfile.mkdtemp(prefix="bench-peer-")) / "first-record"
    env = {**os.environ, "BENCH_FIRST_RECORD_FILE": str(mark)}
    started = time.time()
    proc = subprocess.Popen(side.argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    first_applied: float | None = None
    applied = 0
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            while applied < distinct:
                if proc.poll() is not None:
                    err = proc.stderr.read().decode()[-2000:] if proc.stderr else ""
                    raise RuntimeError(f"{side.name} exited ({proc.returncode}): {err}")
                if time.time() - started > timeout:
                    raise RuntimeError(f"{side.name}: {applied}/{distinct} applied in {timeout}s")
                applied = _applied(conn, side.table)
                if applied and first_applied is None:
                    first_applied = time.time()
                time.sleep(POLL_S)
        end = time.time()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    first = float(mark.read_text())
    shutil.rmtree(mark.parent)
    elapsed = end - first
    return {
        "events_per_s": round(distinct / elapsed),
        "seconds": round(elapsed, 3),
        "startup_s": round(first - started, 2),
        "first_commit_s": round((first_applied or end) - first, 2),
    }


def table_rows(dsn: str, table: str) -> Expected:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT item_id, to_char(minute AT TIME ZONE 'UTC', "
            f'\'YYYY-MM-DD"T"HH24:MI:00"Z"\'), views, amount FROM {table}'
        ).fetchall()
    return {(item, minute): (int(views), Decimal(amount)) for item, minute, views, amount in rows}


def measure(
    ep: Endpoints, make: Any, topic: str, distinct: int, expected: Expected, timeout: float
) -> dict[str, Any]:
    db = f"bench_{uuid.uuid4().hex[:10]}"
    create_database(ep, db)
    try:
        side = make(f"bench-peer-{uuid.uuid4().hex[:8]}", ep.dsn(db))
        result = run_side(side, ep.dsn(db), distinct, timeout)
        got = table_rows(ep.dsn(db), side.table)
        result["table_matches"] = got == expected
        if got != expected:
            wrong = sum(1 for k in expected.keys() | got.keys() if got.get(k) != expected.get(k))
            result["rows_differing"] = wrong
    finally:
        drop_database(ep, db)
    return result


def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    rates = [r["events_per_s"] for r in runs]
    return {
        "runs": rates,
        "median": round(statistics.median(rates)),
        "min": min(rates),
        "max": max(rates),
        "all_tables_match": all(r["table_matches"] for r in runs),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000, help="distinct events")
    parser.add_argument("--duplicates", type=float, default=2.0, help="percent sent twice")
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--runs", type=int, default=5, help="runs of each side, interleaved")
    parser.add_argument("--sides", default="cutover,quix")
    parser.add_argument("--quix-venv", default=str(QUIX_VENV))
    parser.add_argument("--quix-commit-interval", type=float, default=0.5)
    parser.add_argument("--quix-commit-every", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per run")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if "quix" in args.sides and not (Path(args.quix_venv) / "bin" / "python").exists():
        setup = ROOT / "bench" / "peer_quix" / "setup.sh"
        env = {**os.environ, "QUIX_VENV": args.quix_venv}
        if subprocess.run(["bash", str(setup)], env=env, check=False).returncode != 0:
            print(f"no quixstreams venv at {args.quix_venv}: bash {setup} failed")
            return 2
    ep = load_endpoints()
    topic = f"bench-peer-{uuid.uuid4().hex[:8]}.item"
    KafkaTopicAdmin({"bootstrap.servers": ep.bootstrap_servers}).ensure_topics(
        [TopicSpecValue(topic, args.partitions)]
    )
    try:
        return _run(ep, topic, args)
    finally:
        admin = AdminClient({"bootstrap.servers": ep.bootstrap_servers})
        for fut in admin.delete_topics([topic]).values():
            fut.result(30)


def _run(ep: Endpoints, topic: str, args: argparse.Namespace) -> int:
    sent = fill(ep.bootstrap_servers, topic, args.events, args.duplicates)
    expected = expected_rows(args.events, args.duplicates)
    makers = sides(ep, topic, args)
    names = [s for s in args.sides.split(",") if s]
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    for i in range(args.runs):
        for name in names if i % 2 == 0 else names[::-1]:
            r = measure(ep, makers[name], topic, args.events, expected, args.timeout)
            results[name].append(r)
            if not args.json:
                print(f"run {i + 1} {name:>7}: {r}", flush=True)
    report: dict[str, Any] = {
        "at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "records": sent,
        "distinct_events": args.events,
        "partitions": args.partitions,
        "table_rows": len(expected),
        "load_average": round(os.getloadavg()[0], 1),
        **{name: summary(runs) for name, runs in results.items()},
        "detail": results,
    }
    if "cutover" in results and "quix" in results:
        report["ratio_cutover_over_quix"] = round(
            report["cutover"]["median"] / report["quix"]["median"], 2
        )
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(
            f"topic {topic}: {sent} records ({args.events} distinct), {args.partitions} partitions"
        )
        for name in names:
            s = report[name]
            print(
                f"{name:>7}: median {s['median']:>7,} events/s  runs {s['runs']}  "
                f"tables match: {s['all_tables_match']}"
            )
        ratio = report.get("ratio_cutover_over_quix")
        if ratio is not None:
            verdict = "met" if ratio >= GOAL_RATIO else "NOT met"
            print(f"cutover / quix (medians): {ratio:.2f}x; goal >= {GOAL_RATIO:.0f}x {verdict}")
        print(f"conditions: load average {report['load_average']}")
    ok = all(report[name]["all_tables_match"] for name in names)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
