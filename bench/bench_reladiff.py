"""Benchmark: the comparators over two Postgres tables vs reladiff (PyPI ``reladiff==0.6.0``).

Run (the local stack must be up): .venv/bin/python bench/bench_reladiff.py [--rows 1000000]

The same outcome rows as ``bench_compare.py`` are loaded into two tables of a
scratch database (``sync_outcomes``, ``event_outcomes``; nested parts as jsonb).
Two scenarios: all rows match, then 1 % of the candidate totals are changed.
The comparators run twice: reading every row (what ``SqlSource`` does when one
side is not SQL, or invariants need every row) and with digest pushdown
(Postgres hashes each row's JSON form; full rows are fetched only for keys
whose digests differ).
Both tools compare the same columns (everything but ``produced_at`` and
``source``) and must find the same keys. Wall-clock seconds (both tools wait on
Postgres), ratio both ways. reladiff is run with its two algorithms: hashdiff
(checksums of key ranges computed by Postgres, bisecting where they differ) and
joindiff (one outer join in the database). Not a timed test: it prints figures.

reladiff 0.6.0 installs into the project's .venv next to the pinned packages
without conflicts (it needs ``psycopg2-binary`` for Postgres).
"""

from __future__ import annotations

import argparse
import io
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_compare import record

from comparators.diff import Scope, compare
from comparators.rules import CompareOptions
from comparators.sources import ReadWindow, SqlSource, pushdown_window
from cutover_common.logging import configure_logging
from rehearsal.stack.endpoints import load_endpoints
from rehearsal.stack.pgadmin import create_database, drop_database

DDL = """
CREATE TABLE {name} (
    order_id text PRIMARY KEY, correlation_id text, status text, total numeric(12,2),
    reservation jsonb, payment jsonb, shipment jsonb, notifications jsonb,
    produced_at timestamptz NOT NULL, source text
)
"""
COLUMNS = (
    "order_id",
    "correlation_id",
    "status",
    "total",
    "reservation",
    "payment",
    "shipment",
    "notifications",
    "produced_at",
    "source",
)
COMPARED = (
    "correlation_id",
    "status",
    "total",
    "reservation",
    "payment",
    "shipment",
    "notifications",
)
JSONB = {"reservation", "payment", "shipment", "notifications"}


def load(dsn: str, table: str, side: str, rows: int) -> None:
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(DDL.format(name=table))
        with cur.copy(f"COPY {table} ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for i in range(rows):
                rec: dict[str, Any] = record(i, side, every=0)
                copy.write_row([Jsonb(rec[c]) if c in JSONB else rec[c] for c in COLUMNS])
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"VACUUM ANALYZE {table}")


def ours(dsn: str, pushdown: bool) -> tuple[float, set[str]]:
    """The comparators over the two tables; ``pushdown``: Postgres hashes rows, Python
    fetches full rows only for keys whose digests differ."""
    control = SqlSource(
        dsn, "SELECT * FROM sync_outcomes", name="sync", itersize=10_000, key="order_id"
    )
    candidate = SqlSource(
        dsn, "SELECT * FROM event_outcomes", name="event", itersize=10_000, key="order_id"
    )
    # keep every differing key, to check them
    opts = CompareOptions(key="order_id", sample_limit=1_000_000)
    window = ReadWindow()
    if pushdown:
        window = pushdown_window(control, candidate, opts.ignore, False, window)
    t = time.perf_counter()
    result = compare(
        control.observations(window),
        candidate.observations(window),
        opts,
        Scope(now=datetime(2030, 1, 1, tzinfo=UTC)),
    )
    return time.perf_counter() - t, {s.key for s in result.samples}


def reladiff_run(url: str, algorithm: str) -> tuple[float, set[str]]:
    from reladiff import connect_to_table, diff_tables

    t = time.perf_counter()
    t1 = connect_to_table(url, "sync_outcomes", "order_id")
    t2 = connect_to_table(url, "event_outcomes", "order_id")
    keys = {
        row[0] for _sign, row in diff_tables(t1, t2, extra_columns=COMPARED, algorithm=algorithm)
    }
    return time.perf_counter() - t, keys


def scenario(label: str, dsn: str, url: str) -> None:
    ours_s: dict[str, float] = {}
    ours_keys: set[str] = set()
    for mode, pushdown in (("rows", False), ("digest pushdown", True)):
        ours_s[mode], keys = ours(dsn, pushdown)
        assert not ours_keys or keys == ours_keys
        ours_keys = keys
        print(f"[{label}] comparators, {mode:<15}: {ours_s[mode]:7.1f} s, {len(keys)} keys differ")
    for algo in ("hashdiff", "joindiff"):
        rd_s, rd_keys = reladiff_run(url, algo)
        same = rd_keys == ours_keys
        print(
            f"[{label}] reladiff {algo:<8}: {rd_s:7.1f} s, {len(rd_keys)} keys differ, same keys: {same}"
        )
        for mode, secs in ours_s.items():
            print(
                f"    vs comparators {mode:<15}: reladiff/ours = {rd_s / secs:5.2f}x, "
                f"ours/reladiff = {secs / rd_s:5.2f}x"
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=1_000_000)
    args = ap.parse_args()
    configure_logging(stream=io.StringIO())
    ep = load_endpoints()
    name = f"bench_{uuid.uuid4().hex[:8]}"
    create_database(ep, name)
    try:
        dsn, url = ep.dsn(name), ep.database_url(name, driver="postgresql")
        t = time.perf_counter()
        load(dsn, "sync_outcomes", "sync", args.rows)
        load(dsn, "event_outcomes", "event", args.rows)
        print(
            f"{args.rows:,} rows per table loaded in {time.perf_counter() - t:.0f} s (database {name})"
        )
        scenario("all match", dsn, url)
        with psycopg.connect(dsn) as conn:
            changed = conn.execute(
                "UPDATE event_outcomes SET total = total + 0.01 "
                "WHERE substring(order_id from 5)::int % 100 = 7"
            ).rowcount
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE event_outcomes")
        print(f"changed {changed:,} candidate totals (1 %)")
        scenario("1 % divergent", dsn, url)
    finally:
        drop_database(ep, name)


if __name__ == "__main__":
    main()
