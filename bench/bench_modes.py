"""What the mode switch costs: its cached lookup, and ``emit`` stamping the mode it gives.

1. The cached path of ``cutover.ModeSwitch.mode(context)`` (a fake reader, a TTL longer
   than the run: no reads) against a plain ``dict.get`` in the same run: ns per lookup and
   the ratio.
2. On a scratch database of the local stack (``cutover stack up`` first): the same
   transaction (BEGIN, one business INSERT, COMMIT) through psycopg without an outbox row,
   with ``cutover.emit`` whose mode comes from a ``ModeSwitch`` over cutover's real modes
   table (TTL 1 s: a read per second), and again without (A/A: the noise floor). Arms take
   turns one transaction at a time, in a new random order each turn; p50/p99 and the
   delta. The issue's goal: emit adds at most 0.3 ms p50.

    .venv/bin/python bench/bench_modes.py --lookups 1000000 --transactions 300 --rounds 10
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import timeit
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
from bench_emit import interleaved
from sqlalchemy import create_engine, text

import cutover
from cdc.outbox_table import OutboxLayout, create_table_ddl
from cutover.modes import StaticModes
from cutover.state.init import upgrade
from rehearsal.stack.endpoints import load_endpoints
from rehearsal.stack.pgadmin import create_database, drop_database

GOAL_MS = 0.3
BUSINESS_DDL = "CREATE TABLE favorites (id bigserial PRIMARY KEY, slug text NOT NULL)"
PAYLOAD = {"slug": "a", "reader": "ann", "tags": ["x", "y"], "n": 812}


def lookups(n: int, repeats: int) -> None:
    modes = cutover.ModeSwitch(StaticModes({"favorite": "dual"}), ttl=1e9)
    modes.mode("favorite")  # the first read fills the cache
    plain = {"favorite": cutover.Mode.DUAL}
    per: dict[str, list[float]] = {"dict.get": [], "ModeSwitch.mode": []}
    for _ in range(repeats):  # interleaved, so drift hits both
        per["dict.get"].append(
            min(timeit.repeat(lambda: plain.get("favorite"), number=n, repeat=1))
        )
        per["ModeSwitch.mode"].append(
            min(timeit.repeat(lambda: modes.mode("favorite"), number=n, repeat=1))
        )
    ns = {k: [t / n * 1e9 for t in v] for k, v in per.items()}
    print(f"lookups: {n} per repeat x {repeats} repeats, python {platform.python_version()}")
    for name, values in ns.items():
        print(
            f"  {name:<16} best {min(values):7.1f} ns  median {statistics.median(values):7.1f} ns"
        )
    ratio = statistics.median(ns["ModeSwitch.mode"]) / statistics.median(ns["dict.get"])
    print(f"  ModeSwitch.mode / dict.get (medians): {ratio:.1f}x")


def arm(conn: psycopg.Connection[Any], outbox: cutover.Outbox | None) -> Callable[[int], None]:
    def one(i: int) -> None:
        with conn.transaction():
            conn.execute("INSERT INTO favorites (slug) VALUES (%s)", (f"a-{i}",))
            if outbox is not None:
                outbox.emit(conn, "article", f"a-{i}", "article.favorited", PAYLOAD)

    return one


def quantile_ms(samples: list[float], q: float) -> float:
    s = sorted(samples)
    return s[min(len(s) - 1, int(len(s) * q))] * 1000


def transactions(n: int, rounds: int, warmup: int) -> None:
    endpoints = load_endpoints()
    database = f"bench_modes_{uuid.uuid4().hex[:8]}"
    create_database(endpoints, database)
    try:
        engine = create_engine(endpoints.database_url(database))
        upgrade(engine, groups=("app",))
        with engine.begin() as c:
            c.execute(
                text(
                    "INSERT INTO cutover.context_modes (context, mode) VALUES ('favorite', 'dual')"
                )
            )
            c.execute(text(BUSINESS_DDL))
            for statement in create_table_ddl(OutboxLayout()):
                c.exec_driver_sql(statement)
        modes = cutover.ModeSwitch.from_engine(engine, ttl=1.0, heartbeats=False)
        outbox = cutover.Outbox(mode=modes.provider("favorite"))
        with psycopg.connect(endpoints.dsn(database)) as conn:
            arms = {
                "no emit": arm(conn, None),
                "+emit (ModeSwitch)": arm(conn, outbox),
                "no emit (A/A)": arm(conn, None),
            }
            samples = interleaved(arms, n * rounds, warmup)
        engine.dispose()
    finally:
        drop_database(endpoints, database)
    print(
        f"transactions: {n} x {rounds} rounds per arm (interleaved), psycopg, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print(f"  {'arm':<20} {'p50 ms':>8} {'p99 ms':>8}")
    for name, s in samples.items():
        print(f"  {name:<20} {quantile_ms(s, 0.5):8.3f} {quantile_ms(s, 0.99):8.3f}")
    base = quantile_ms(samples["no emit"], 0.5)
    added = quantile_ms(samples["+emit (ModeSwitch)"], 0.5) - base
    noise = quantile_ms(samples["no emit (A/A)"], 0.5) - base
    added99 = quantile_ms(samples["+emit (ModeSwitch)"], 0.99) - quantile_ms(
        samples["no emit"], 0.99
    )
    verdict = "met" if added <= GOAL_MS else "NOT met"
    print(
        f"  emit with the mode switch adds {added:+.3f} ms p50 ({added / base:+.1%}), "
        f"{added99:+.3f} ms p99; A/A {noise:+.3f} ms; goal <= {GOAL_MS} ms p50 {verdict}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--lookups", type=int, default=1_000_000, help="per repeat")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--transactions", type=int, default=300, help="per arm and round")
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=100)
    args = ap.parse_args()
    lookups(args.lookups, args.repeats)
    transactions(args.transactions, args.rounds, args.warmup)


if __name__ == "__main__":
    main()
