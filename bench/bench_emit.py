"""What ``cutover.emit`` adds to a business transaction, per driver, in one run.

On a scratch database of the local stack (``cutover stack up`` first), each arm runs the
same transaction — BEGIN, one business INSERT, COMMIT — and the ``+emit`` arms add one
outbox row with ``cutover.emit`` (validation, JSON encoding, the INSERT). Arms take turns
one transaction at a time (in a new random order each turn) so drift on a shared machine
hits all alike; the A/A arm repeats the baseline, and its difference to it is the run's noise
floor. The goal: emit adds at most 0.3 ms to the p50 of the same transaction without it.

    .venv/bin/python bench/bench_emit.py --transactions 300 --rounds 10
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

import cutover
from cdc.outbox_table import OutboxLayout, create_table_ddl
from rehearsal.stack.endpoints import load_endpoints
from rehearsal.stack.pgadmin import create_database, drop_database

GOAL_MS = 0.3
BUSINESS_DDL = "CREATE TABLE articles (id bigserial PRIMARY KEY, slug text NOT NULL, body jsonb)"
INSERT = "INSERT INTO articles (slug, body) VALUES (%s, %s::jsonb)"
PAYLOAD = {"slug": "a", "title": "A title of some length", "tags": ["x", "y"], "words": 812}


EMIT_CALLS: dict[str, list[float]] = {"psycopg": [], "sqlalchemy": []}
"""The duration of the emit call itself, inside the transaction, per driver."""


def psycopg_arm(conn: psycopg.Connection[Any], emit: bool) -> Callable[[int], None]:
    outbox = cutover.Outbox()
    calls = EMIT_CALLS["psycopg"]

    def one(i: int) -> None:
        with conn.transaction():
            conn.execute(INSERT, (f"a-{i}", '{"n": 1}'))
            if emit:
                t0 = time.perf_counter()
                outbox.emit(conn, "article", f"a-{i}", "article.published", PAYLOAD)
                calls.append(time.perf_counter() - t0)

    return one


def session_arm(engine: Any, emit: bool) -> Callable[[int], None]:
    outbox = cutover.Outbox()
    insert = text("INSERT INTO articles (slug, body) VALUES (:slug, CAST(:body AS jsonb))")
    session = Session(engine)
    calls = EMIT_CALLS["sqlalchemy"]

    def one(i: int) -> None:
        with session.begin():
            session.execute(insert, {"slug": f"a-{i}", "body": '{"n": 1}'})
            if emit:
                t0 = time.perf_counter()
                outbox.emit(session, "article", f"a-{i}", "article.published", PAYLOAD)
                calls.append(time.perf_counter() - t0)

    return one


def p50_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--transactions", type=int, default=300, help="per arm and round")
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=100, help="per arm, before the rounds")
    args = ap.parse_args()

    endpoints = load_endpoints()
    database = f"bench_emit_{uuid.uuid4().hex[:8]}"
    create_database(endpoints, database)
    try:
        with psycopg.connect(endpoints.dsn(database), autocommit=True) as admin:
            admin.execute(BUSINESS_DDL)
            for statement in create_table_ddl(OutboxLayout()):
                admin.execute(statement.encode())
        engine = create_engine(endpoints.database_url(database))
        with psycopg.connect(endpoints.dsn(database)) as conn:
            arms = {
                "psycopg": psycopg_arm(conn, emit=False),
                "psycopg +emit": psycopg_arm(conn, emit=True),
                "psycopg (A/A)": psycopg_arm(conn, emit=False),
                "sqlalchemy": session_arm(engine, emit=False),
                "sqlalchemy +emit": session_arm(engine, emit=True),
                "sqlalchemy (A/A)": session_arm(engine, emit=False),
            }
            run(arms, args.transactions, args.rounds, args.warmup)
        engine.dispose()
    finally:
        drop_database(endpoints, database)


def interleaved(
    arms: dict[str, Callable[[int], None]], total: int, warmup: int
) -> dict[str, list[float]]:
    """Seconds per call of each arm: ``warmup`` untimed calls each, then ``total`` timed
    calls each, one per arm at a time in a new random order (also used by bench_modes)."""
    counter = iter(range(10**9))
    for one in arms.values():
        for _ in range(warmup):
            one(next(counter))
    samples: dict[str, list[float]] = {name: [] for name in arms}
    names = list(arms)
    for _ in range(total):
        random.shuffle(names)  # one transaction per arm, in a new order each time
        for name in names:
            i = next(counter)
            t0 = time.perf_counter()
            arms[name](i)
            samples[name].append(time.perf_counter() - t0)
    return samples


def run(
    arms: dict[str, Callable[[int], None]], transactions: int, rounds: int, warmup: int
) -> None:
    samples = interleaved(arms, rounds * transactions, warmup)
    print(
        f"conditions: {transactions} transactions x {rounds} rounds per arm, "
        f"python {platform.python_version()}, load average {os.getloadavg()[0]:.1f}"
    )
    print(f"{'arm':<18} {'p50 ms':>8} {'p90 ms':>8}")
    for name in arms:
        s = sorted(samples[name])
        print(f"{name:<18} {p50_ms(s):8.3f} {s[int(len(s) * 0.9)] * 1000:8.3f}")
    for driver in ("psycopg", "sqlalchemy"):
        base = p50_ms(samples[driver])
        added = p50_ms(samples[f"{driver} +emit"]) - base
        noise = p50_ms(samples[f"{driver} (A/A)"]) - base
        call = p50_ms(EMIT_CALLS[driver][warmup:])
        verdict = "met" if added <= GOAL_MS else "NOT met"
        print(
            f"{driver}: emit adds {added:+.3f} ms to the transaction's p50 ({added / base:+.1%}); "
            f"A/A {noise:+.3f} ms; the emit call itself p50 {call:.3f} ms; "
            f"goal <= {GOAL_MS} ms {verdict}"
        )


if __name__ == "__main__":
    main()
