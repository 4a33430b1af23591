"""Benchmark: end-to-end lag from the order's outbox commit to the shadow outcome, at a fixed
order rate, beside the CDC-only lag (outbox commit -> record readable in Kafka) measured on
the same events in the same run as the baseline.

Orders are announced by writing `order.created` outbox rows directly at the target rate
(the HTTP front is not what is measured here; see bench_dual_write.py for it). Lags use one
clock: Postgres' clock_timestamp() on this machine, read back by a trigger on the shadow
store and by the consumer thread (time.time()).

Run: .venv/bin/python bench/bench_e2e_lag.py [--rate 200] [--seconds 60] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import threading
import time
import uuid
from decimal import Decimal

import psycopg
from confluent_kafka import Consumer

from rehearsal.run import Rehearsal, RehearseOptions
from rehearsal.scenario import Scenario, ShadowSettings
from rehearsal.stack.topology import load_topology

TRIGGER = """
CREATE TABLE IF NOT EXISTS bench_seen (order_id varchar(255) PRIMARY KEY, seen_at timestamptz NOT NULL);
CREATE OR REPLACE FUNCTION bench_seen_fn() RETURNS trigger AS $$
BEGIN
  IF NEW.finished_at IS NOT NULL THEN
    INSERT INTO bench_seen VALUES (NEW.order_id, clock_timestamp()) ON CONFLICT DO NOTHING;
  END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS bench_seen_tr ON shadow.order_status;
CREATE TRIGGER bench_seen_tr AFTER INSERT OR UPDATE ON shadow.order_status
  FOR EACH ROW EXECUTE FUNCTION bench_seen_fn();
"""


def payload(order_id: str, i: int) -> dict[str, object]:
    n = 1 + i % 50
    price = Decimal("5.00") + Decimal("1.25") * n
    qty = 1 + i % 3
    return {
        "order_id": order_id,
        "customer_id": f"bench-{i % 97}",
        "customer_email": f"b{i % 97}@example.com",
        "items": [{"sku": f"SKU-{n:04d}", "qty": qty, "unit_price": str(price)}],
        "total": str(price * qty),
        "currency": "EUR",
        "payment_method": "card",
    }


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    scenario = Scenario(name="bench-lag", shadow=ShadowSettings(workers=args.workers))
    reh = Rehearsal(load_topology(), RehearseOptions(scenario), say=lambda _l: None)
    try:
        assert reh.enter_dual_write(), "could not enter dual-write"
        env = reh.env
        dsn = env.endpoints.dsn(env.database)
        deadline = time.monotonic() + 60
        while True:
            try:
                with psycopg.connect(dsn, autocommit=True) as conn:
                    conn.execute(TRIGGER)
                break
            except psycopg.Error:
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)

        sent: dict[str, float] = {}
        kafka_seen: dict[str, float] = {}
        stop = threading.Event()

        def consume() -> None:
            consumer = Consumer(
                {
                    "bootstrap.servers": env.bootstrap_servers,
                    "group.id": f"bench-raw-{uuid.uuid4().hex[:6]}",
                    "auto.offset.reset": "latest",
                    "enable.auto.commit": False,
                    "fetch.wait.max.ms": 10,
                }
            )
            consumer.subscribe([env.primary_topic])
            while not stop.is_set():
                for msg in consumer.consume(500, 0.05):
                    if msg.error() is None and msg.key():
                        kafka_seen.setdefault(msg.key().decode(), time.time())
            consumer.close()

        reader = threading.Thread(target=consume, daemon=True)
        reader.start()
        time.sleep(5)  # let the raw consumer join its group
        total = int(args.rate * args.seconds)
        interval = 1.0 / args.rate
        t_start = time.monotonic()
        with psycopg.connect(dsn, autocommit=True) as conn:
            for i in range(total):
                target = t_start + i * interval
                delay = target - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                oid = str(uuid.uuid4())
                row = conn.execute(
                    "insert into outbox (id, aggregatetype, aggregateid, type, payload, correlation_id)"
                    " values (%s, 'order', %s, 'order.created', %s, %s) returning extract(epoch from clock_timestamp())",
                    (str(uuid.uuid4()), oid, json.dumps(payload(oid, i)), f"bench-{i}"),
                ).fetchone()
                sent[oid] = float(row[0]) if row else time.time()
        achieved = total / (time.monotonic() - t_start)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            with psycopg.connect(dsn, autocommit=True) as conn:
                done = conn.execute("select count(*) from bench_seen").fetchone()
            if done and done[0] >= total and len(kafka_seen) >= total:
                break
            time.sleep(1)
        stop.set()
        with psycopg.connect(dsn, autocommit=True) as conn:
            seen = {
                r[0]: float(r[1])
                for r in conn.execute(
                    "select order_id, extract(epoch from seen_at) from bench_seen"
                ).fetchall()
            }
        e2e = [(seen[k] - t) * 1000 for k, t in sent.items() if k in seen]
        cdc = [(kafka_seen[k] - t) * 1000 for k, t in sent.items() if k in kafka_seen]
        print(
            f"orders: {total} at target {args.rate:.0f}/s (achieved {achieved:.1f}/s) for {args.seconds:.0f}s, "
            f"{args.workers} shadow workers, 6 partitions"
        )
        print(
            f"CDC only (outbox commit -> Kafka consumer): n={len(cdc)} p50 {pct(cdc, 50):.0f} ms, "
            f"p99 {pct(cdc, 99):.0f} ms, max {max(cdc):.0f} ms"
        )
        print(
            f"end to end (outbox commit -> shadow outcome committed): n={len(e2e)} p50 {pct(e2e, 50):.0f} ms, "
            f"p99 {pct(e2e, 99):.0f} ms, max {max(e2e):.0f} ms, mean {statistics.fmean(e2e):.0f} ms"
        )
        print(
            f"ratio end-to-end / CDC-only: p50 {pct(e2e, 50) / pct(cdc, 50):.2f}x, p99 {pct(e2e, 99) / pct(cdc, 99):.2f}x"
        )
        print(
            f"goal: p50 < 500 ms, p99 < 2000 ms -> {'met' if pct(e2e, 50) < 500 and pct(e2e, 99) < 2000 else 'NOT met'}"
        )
        print(f"lost: {total - len(e2e)} (never reached the shadow store)")
        print(f"conditions: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    finally:
        reh.env.teardown()


if __name__ == "__main__":
    main()
