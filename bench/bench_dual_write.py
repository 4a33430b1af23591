"""POST /orders latency and throughput in sync, dual and naive-dual: one run, same traffic.

Starts the five services as gunicorn processes on a fresh database of the
local stack (``cutover stack up`` first), then plays the same order traffic in
each mode — interleaved in rounds so drift on a shared machine hits every mode
alike — and prints p50/p99 latency, throughput and the ratios to ``sync``, with a
second ``sync`` arm (A/A) whose ratio is the run's noise floor. The sample's dual path
is the SDK's (``cutover.emit`` stamping the mode from a ``cutover.ModeSwitch``, verify and
blocked-call records through ``cutover.Migration``). The goal: ``dual`` p50 at most
:data:`GOAL` x sync's.

    .venv/bin/python bench/bench_dual_write.py --requests 100 --concurrency 2 --rounds 9
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from cutover_common.modes import Mode
from cutover_common.secrets import Secret
from legacy_app.runner import RunSpec, start_services, stop_services
from legacy_app.schema import make_engine
from legacy_app.wsgi import SERVICES

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository's tests/ helpers
from tests.support.cutover_state import write_mode

MODES = (Mode.SYNC, Mode.DUAL, Mode.NAIVE_DUAL)
# Arms played each round: the three modes plus a second sync arm (A/A) whose ratio to
# sync is the noise floor of the run — a difference smaller than that is not measured.
ARMS: tuple[tuple[str, Mode], ...] = (
    ("sync", Mode.SYNC),
    ("dual", Mode.DUAL),
    ("naive-dual", Mode.NAIVE_DUAL),
    ("sync (A/A)", Mode.SYNC),
)
MODE_CACHE = 0.25  # seconds; the bench waits past it after each flip
GOAL = 1.05  # dual p50 / sync p50


@dataclass
class Sample:
    latencies: list[float]
    elapsed: float
    errors: int


def traffic(n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` order bodies (customer filled in later): 1-3 lines, 1 in 10 declined."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        skus = rng.sample([f"SKU-{i:04d}" for i in range(1, 51)], rng.randint(1, 3))
        out.append(
            {
                "items": [{"sku": s, "qty": rng.randint(1, 3)} for s in skus],
                "payment_method": "card_declined" if rng.random() < 0.1 else "card",
            }
        )
    return out


def play(url: str, customer: str, bodies: list[dict[str, Any]], concurrency: int) -> Sample:
    sessions: dict[int, requests.Session] = {}

    def one(i_body: tuple[int, dict[str, Any]]) -> tuple[float, bool]:
        import threading

        session = sessions.setdefault(threading.get_ident(), requests.Session())
        start = time.perf_counter()
        resp = session.post(
            f"{url}/orders", json={"customer_id": customer, **i_body[1]}, timeout=30
        )
        return time.perf_counter() - start, resp.status_code == 201

    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(one, enumerate(bodies)))
    return Sample(
        [r[0] for r in results], time.perf_counter() - start, sum(1 for r in results if not r[1])
    )


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=100, help="orders per mode per round")
    ap.add_argument("--concurrency", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--warmup", type=int, default=60)
    ap.add_argument("--threads", type=int, default=8, help="gunicorn threads per service")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    args.loadavg_at_start = round(os.getloadavg()[0], 2)

    from rehearsal.stack.endpoints import load_endpoints
    from rehearsal.stack.pgadmin import create_database, drop_database

    endpoints = load_endpoints()
    database = f"bench_{uuid.uuid4().hex[:10]}"
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    create_database(endpoints, database)
    run_dir = Path(tempfile.mkdtemp(prefix="bench_dual_write_"))
    ports = {svc: 25000 + i for i, svc in enumerate(SERVICES)}
    spec = RunSpec(
        run_dir=run_dir,
        database_url=Secret(endpoints.database_url(database)),
        ports=ports,
        host=endpoints.host,
        env={
            "CUTOVER_KAFKA_BOOTSTRAP_SERVERS": endpoints.bootstrap_servers,
            "CUTOVER_OUTBOX_TOPIC_PREFIX": prefix,
            "CUTOVER_MODE_CACHE_SECONDS": str(MODE_CACHE),
        },
        threads=args.threads,
    )
    engine = make_engine(spec.database_url.reveal(), pool_size=1)
    samples: dict[str, list[Sample]] = {arm: [] for arm, _ in ARMS}
    try:
        start_services(spec)
        url = spec.url("order")
        customer = requests.post(
            f"{url}/customers", json={"name": "Bench", "email": "bench@example.com"}, timeout=10
        ).json()["id"]
        for mode in MODES:  # warm every path (the naive producer connects on first use)
            write_mode(engine, "order", mode)
            time.sleep(MODE_CACHE + 0.2)
            play(url, customer, traffic(args.warmup, 0), args.concurrency)
        for rnd in range(args.rounds):
            bodies = traffic(args.requests, rnd + 1)
            shift = rnd % len(ARMS)
            for arm, mode in ARMS[shift:] + ARMS[:shift]:  # rotate who goes first
                write_mode(engine, "order", mode)
                time.sleep(MODE_CACHE + 0.2)  # past the mode cache
                samples[arm].append(play(url, customer, bodies, args.concurrency))
    finally:
        engine.dispose()
        stop_services(run_dir)
        drop_database(endpoints, database)
        try:
            from confluent_kafka.admin import AdminClient

            AdminClient({"bootstrap.servers": endpoints.bootstrap_servers}).delete_topics(
                [f"{prefix}.order"]
            )
        except Exception:  # the topic may not exist; nothing else to clean
            pass

    shutil.rmtree(run_dir, ignore_errors=True)  # kept (with the service logs) if the run failed
    report = summarise(samples, args)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_report(report)
    return 0


def summarise(samples: dict[str, list[Sample]], args: argparse.Namespace) -> dict[str, Any]:
    rows: dict[str, dict[str, float]] = {}
    for arm, runs in samples.items():
        lat = [x for s in runs for x in s.latencies]
        rows[arm] = {
            "requests": len(lat),
            "errors": sum(s.errors for s in runs),
            "p50_ms": pct(lat, 0.50) * 1000,
            "p99_ms": pct(lat, 0.99) * 1000,
            "mean_ms": statistics.fmean(lat) * 1000,
            "throughput_rps": len(lat) / sum(s.elapsed for s in runs),
        }
    base = rows["sync"]
    for row in rows.values():
        row["p50_vs_sync"] = row["p50_ms"] / base["p50_ms"]
        row["p99_vs_sync"] = row["p99_ms"] / base["p99_ms"]
        row["throughput_vs_sync"] = row["throughput_rps"] / base["throughput_rps"]
    return {
        "conditions": {
            "requests_per_mode_per_round": args.requests,
            "rounds": args.rounds,
            "concurrency": args.concurrency,
            "gunicorn_threads": args.threads,
            "warmup_per_mode": args.warmup,
            "cpus": os.cpu_count(),
            "loadavg_1m_at_start": args.loadavg_at_start,
            "loadavg_1m_at_end": round(os.getloadavg()[0], 2),
        },
        "modes": rows,
        "goal_dual_p50_vs_sync": GOAL,
        "dual_p50_overhead_ok": rows["dual"]["p50_vs_sync"] <= GOAL,
    }


def print_report(report: dict[str, Any]) -> None:
    print("conditions:", json.dumps(report["conditions"]))
    head = (
        f"{'mode':<11}{'n':>6}{'err':>5}{'p50 ms':>9}{'p99 ms':>9}{'rps':>8}"
        f"{'p50/sync':>10}{'p99/sync':>10}{'rps/sync':>10}"
    )
    print(head)
    for mode, r in report["modes"].items():
        print(
            f"{mode:<11}{r['requests']:>6}{r['errors']:>5}{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}"
            f"{r['throughput_rps']:>8.1f}{r['p50_vs_sync']:>10.3f}{r['p99_vs_sync']:>10.3f}"
            f"{r['throughput_vs_sync']:>10.3f}"
        )
    verdict = "OK" if report["dual_p50_overhead_ok"] else "OVER"
    overhead = 100 * (report["modes"]["dual"]["p50_vs_sync"] - 1)
    noise = 100 * (report["modes"]["sync (A/A)"]["p50_vs_sync"] - 1)
    goal = 100 * (report["goal_dual_p50_vs_sync"] - 1)
    print(f"dual p50 overhead vs sync: {overhead:+.1f} % ({verdict}; goal <= +{goal:.0f} %)")
    print(f"noise floor (sync A/A p50): {noise:+.1f} %")


if __name__ == "__main__":
    sys.exit(main())
