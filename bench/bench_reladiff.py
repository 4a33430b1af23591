"""Benchmark: the comparators over two Postgres tables vs reladiff (PyPI ``reladiff==0.6.0``).

Run (the local stack must be up; reladiff in its own venv: bash bench/peer_reladiff/setup.sh):

    .venv/bin/python bench/bench_reladiff.py [--rows 1000000] [--runs 3] [--keep PREFIX] [--sample-limit N]

The same outcome rows as ``bench_compare.py`` are loaded once into a scratch database A
(``sync_outcomes``, ``event_outcomes``, and ``event_outcomes_div`` with 1 % of the totals
changed; nested parts as jsonb) and copied to a database B (``CREATE DATABASE ... TEMPLATE``).
``--keep PREFIX`` keeps (or reuses) them as ``PREFIX_a``/``PREFIX_b`` across invocations.

Two layouts: **same database** (control A.sync_outcomes, candidate A.event_outcomes[_div])
and **two databases** (candidate in B). Tools, interleaved in every run, each in its own
process (wall-clock seconds from connecting to the last difference, peak RSS):

* ours ``rows``: every row read into Python (once per scenario: slow, and the same in
  both layouts); ours ``pushdown``: today's per-key digests streamed to Python (once);
* ours ``join`` (same database): one ``FULL OUTER JOIN`` in Postgres (comparators.joined);
* ours ``bisect``: range checksums with bisection, each side in its own database
  (comparators.bisect_pg; run in both layouts: it never joins);
* reladiff ``hashdiff`` (checksums of key ranges, bisecting) and ``joindiff`` (one outer
  join: same database only — reladiff cannot join across databases).

Every tool compares the same columns (all but ``produced_at`` and ``source``) and must find
the same keys (asserted). Ours run with their defaults (the join: 2 connections; bisection:
1 worker slice, one connection per database, ``--workers``), reladiff
with ``thread_count=2`` and ``max_threadpool_size=2``. The machine is shared: figures are the
median of ``--runs`` runs, with ratios both ways. Not a timed test: it prints figures.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_compare import record

from comparators.bisect_pg import compare_ranges
from comparators.diff import Scope, compare
from comparators.result import Accumulator, ComparisonResult
from comparators.rules import CompareOptions
from comparators.sources import ReadWindow, SqlSource, pushdown_window
from cutover_common.logging import configure_logging
from rehearsal.stack.endpoints import Endpoints, load_endpoints
from rehearsal.stack.pgadmin import create_database, drop_database

HERE = Path(__file__).resolve().parent
RELADIFF_PYTHON = HERE.parent / ".cache" / "reladiff-venv" / "bin" / "python"
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
SCENARIOS = {"all match": "event_outcomes", "1 % divergent": "event_outcomes_div"}
FULL_SAMPLE = 10_000_000
"""Ours keep every differing key as a sample (up to this many) so the key sets can be
compared with reladiff's."""
NOW = datetime(2030, 1, 1, tzinfo=UTC)
SCALE_UP = """
INSERT INTO {dst} SELECT
    'ord-' || lpad((%(n)s * %(rows)s + substring(order_id from 5)::int)::text, 8, '0'),
    'c-' || lpad((%(n)s * %(rows)s + substring(order_id from 5)::int)::text, 8, '0'),
    status, total, reservation, payment, shipment, notifications, produced_at, source
FROM {src}
"""


# --- loading (once; reused with --keep) ---------------------------------------------------


def load(dsn: str, table: str, side: str, rows: int) -> None:
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(DDL.format(name=table))
        with cur.copy(f"COPY {table} ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for i in range(rows):
                rec: dict[str, Any] = record(i, side, every=0)
                copy.write_row([Jsonb(rec[c]) if c in JSONB else rec[c] for c in COLUMNS])


def load_scaled(dsn: str, table: str, side: str, rows: int, base: int) -> None:
    """``rows`` rows as ``rows // base`` renumbered copies of ``base`` generated rows (a 10M
    load in minutes instead of an hour: the rows differ only in key and correlation id)."""
    load(dsn, f"{table}_base", side, base)
    with psycopg.connect(dsn) as conn:
        conn.execute(DDL.format(name=table))
        for n in range(rows // base):
            conn.execute(SCALE_UP.format(dst=table, src=f"{table}_base"), {"n": n, "rows": base})
        conn.execute(f"DROP TABLE {table}_base")


def prepare(ep: Endpoints, prefix: str, rows: int, base: int) -> tuple[str, str]:
    """Databases A and B (reused when they exist)."""
    a, b = f"{prefix}_a", f"{prefix}_b"
    with psycopg.connect(ep.dsn("postgres"), autocommit=True) as conn:
        found = {r[0] for r in conn.execute("SELECT datname FROM pg_database").fetchall()}
    if {a, b} <= found:
        print(f"reusing databases {a}, {b}")
        return a, b
    create_database(ep, a)
    t = time.perf_counter()
    dsn = ep.dsn(a)
    for table, side in (("sync_outcomes", "sync"), ("event_outcomes", "event")):
        if rows > base:
            load_scaled(dsn, table, side, rows, base)
        else:
            load(dsn, table, side, rows)
    with psycopg.connect(dsn) as conn:
        conn.execute("CREATE TABLE event_outcomes_div (LIKE event_outcomes INCLUDING ALL)")
        conn.execute("INSERT INTO event_outcomes_div SELECT * FROM event_outcomes")
        changed = conn.execute(
            "UPDATE event_outcomes_div SET total = total + 0.01 "
            "WHERE substring(order_id from 5)::int % 100 = 7"
        ).rowcount
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    with psycopg.connect(ep.dsn("postgres"), autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(b), sql.Identifier(a))
        )
    print(
        f"{rows:,} rows per table loaded in {time.perf_counter() - t:.0f} s ({changed:,} changed)"
    )
    return a, b


# --- one tool, in a child process -----------------------------------------------------------


def sources(dsn1: str, dsn2: str, table2: str) -> tuple[SqlSource, SqlSource]:
    return (
        SqlSource(
            dsn1, "SELECT * FROM sync_outcomes", name="sync", itersize=10_000, key="order_id"
        ),
        SqlSource(dsn2, f"SELECT * FROM {table2}", name="event", itersize=10_000, key="order_id"),
    )


def differing(result: ComparisonResult) -> int:
    return sum(n for cat, n in result.counts if cat != "match")


def run_ours(
    tool: str, dsn1: str, dsn2: str, table2: str, sample_limit: int, workers: int = 1
) -> tuple[set[str], int, dict[str, Any]]:
    """Our ``tool`` over the two tables: the sampled differing keys (every one with the
    default ``sample_limit``), how many keys differ, and figures (rows read into Python)."""
    control, candidate = sources(dsn1, dsn2, table2)
    opts = CompareOptions(key="order_id", sample_limit=sample_limit)
    scope = Scope(now=NOW)
    if tool == "bisect":
        result, stats = compare_ranges(control, candidate, opts, scope, workers=workers)
        return (
            {s.key for s in result.samples},
            differing(result),
            {
                "rows_to_python": stats.control_rows + stats.candidate_rows,
                "levels": stats.levels,
                "ranges": stats.ranges_compared,
            },
        )
    if tool == "join":
        from comparators.joined import joined_compare

        run = joined_compare(control, candidate, ReadWindow(), options=opts, scope=scope)
        acc = Accumulator(opts.sample_limit, opts.timeline_bucket_seconds)
        for res in run.keys:
            acc.add(res)
        result = acc.freeze()
        keys = {s.key for s in result.samples}
        rows = {"rows_to_python": run.rows.key_rows, "full_rows": run.rows.full_rows}
        return keys, differing(result), rows
    window = ReadWindow()
    if tool == "pushdown":
        window = pushdown_window(control, candidate, opts.ignore, False, window)
    result = compare(control.observations(window), candidate.observations(window), opts, scope)
    return {s.key for s in result.samples}, differing(result), {}


def child(args: argparse.Namespace) -> None:
    configure_logging(stream=io.StringIO())
    ep = load_endpoints()
    start = time.perf_counter()
    keys, count, extra = run_ours(
        args.run,
        ep.dsn(args.db1),
        ep.dsn(args.db2),
        args.table2,
        args.sample_limit,
        args.workers,
    )
    seconds = time.perf_counter() - start
    Path(args.keys).write_text("".join(f"{k}\n" for k in sorted(keys)), encoding="utf-8")
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "keys": count, "rss_mb": rss_mb, **extra}))


# --- the orchestrating process -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Measure:
    tool: str
    seconds: float
    keys: frozenset[str]
    count: int
    rss_mb: float
    extra: dict[str, Any]


def measure(
    tool: str, ep: Endpoints, db1: str, db2: str, table2: str, sample_limit: int, workers: int
) -> Measure:
    with tempfile.NamedTemporaryFile("r", suffix=".keys") as keys_file:
        if tool.startswith("reladiff "):
            cmd = [
                str(RELADIFF_PYTHON),
                str(HERE / "peer_reladiff" / "run_reladiff.py"),
                "--table1=sync_outcomes",
                f"--table2={table2}",
                "--key=order_id",
                f"--columns={','.join(COMPARED)}",
                f"--algorithm={tool.split()[1]}",
                f"--keys={keys_file.name}",
            ]
            env = {
                **os.environ,
                "RELADIFF_URL1": ep.database_url(db1, driver="postgresql"),
                "RELADIFF_URL2": ep.database_url(db2, driver="postgresql"),
            }
        else:
            cmd = [
                sys.executable,
                __file__,
                f"--run={tool.split()[1]}",
                f"--db1={db1}",
                f"--db2={db2}",
                f"--table2={table2}",
                f"--keys={keys_file.name}",
                f"--sample-limit={sample_limit}",
                f"--workers={workers}",
            ]
            env = dict(os.environ)
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if done.returncode:
            raise SystemExit(f"{tool} failed: {done.stderr.strip().splitlines()[-1:]}")
        figures = json.loads(done.stdout.strip().splitlines()[-1])
        keys = frozenset(line.strip() for line in keys_file if line.strip())
    extra = {k: v for k, v in figures.items() if k not in {"seconds", "keys", "rss_mb"}}
    return Measure(tool, figures["seconds"], keys, figures["keys"], figures["rss_mb"], extra)


def tools(layout: str, first: bool, only: set[str] | None) -> Iterator[str]:
    names = ["ours bisect", "reladiff hashdiff"]
    if layout == "same database":
        names = ["ours join", "ours bisect", "reladiff joindiff", "reladiff hashdiff"]
    elif first:
        names = ["ours rows", "ours pushdown", *names]
    yield from (n for n in names if only is None or n.split()[1] in only)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--keep", metavar="PREFIX", help="keep/reuse databases PREFIX_a, PREFIX_b")
    ap.add_argument("--layouts", default="same database,two databases")
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    ap.add_argument(
        "--tools", help="comma-separated subset: rows,pushdown,join,bisect,hashdiff,joindiff"
    )
    ap.add_argument("--base", type=int, default=1_000_000, help="rows generated before copying")
    ap.add_argument("--workers", type=int, default=2, help="ours bisect: worker slices (default 2)")
    ap.add_argument(
        "--sample-limit",
        type=int,
        default=FULL_SAMPLE,
        help="ours: samples kept per category (default: every differing key, and the key sets "
        "are asserted equal; smaller, as a gate keeps 20: only the numbers of keys are)",
    )
    ap.add_argument("--run", help=argparse.SUPPRESS)
    ap.add_argument("--db1", help=argparse.SUPPRESS)
    ap.add_argument("--db2", help=argparse.SUPPRESS)
    ap.add_argument("--table2", help=argparse.SUPPRESS)
    ap.add_argument("--keys", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.run:
        child(args)
        return
    ep = load_endpoints()
    prefix = args.keep or f"bench_{uuid.uuid4().hex[:8]}"
    a, b = prepare(ep, prefix, args.rows, args.base)
    only = set(args.tools.split(",")) if args.tools else None
    try:
        for label in args.scenarios.split(","):
            for layout in args.layouts.split(","):
                bench(ep, label, layout, a, a if layout == "same database" else b, args, only)
    finally:
        if not args.keep:
            drop_database(ep, a)
            drop_database(ep, b)


def bench(
    ep: Endpoints,
    label: str,
    layout: str,
    db1: str,
    db2: str,
    args: argparse.Namespace,
    only: set[str] | None,
) -> None:
    table2 = SCENARIOS[label]
    runs: dict[str, list[Measure]] = {}
    for n in range(args.runs):
        load_avg = os.getloadavg()[0]
        for tool in tools(layout, n == 0, only):
            m = measure(tool, ep, db1, db2, table2, args.sample_limit, args.workers)
            runs.setdefault(tool, []).append(m)
            print(
                f"[{label} | {layout} | run {n + 1}] {tool:<18} {m.seconds:7.1f} s  "
                f"{m.count:>7} keys  rss {m.rss_mb:6.0f} MB  load {load_avg:4.1f}  {m.extra}",
                flush=True,
            )
    counts = {tool: m.count for tool, ms in runs.items() for m in ms}
    assert len(set(counts.values())) == 1, counts
    what = "the same number of keys"
    if args.sample_limit >= FULL_SAMPLE:
        found = {tool: ms[0].keys for tool, ms in runs.items()}
        first = next(iter(found.values()))
        assert all(k == first for k in found.values()), {t: len(k) for t, k in found.items()}
        what = "the same keys"
    medians = {tool: statistics.median(m.seconds for m in ms) for tool, ms in runs.items()}
    count = next(iter(counts.values()))
    print(f"== {label} | {layout}: every tool found {what}, {count:,}; medians:")
    for tool, secs in medians.items():
        rss = max(m.rss_mb for m in runs[tool])
        print(
            f"   {tool:<18} {secs:7.2f} s (runs: {[round(m.seconds, 2) for m in runs[tool]]}, rss {rss:.0f} MB)"
        )
    for ours in (t for t in medians if t.startswith("ours")):
        for peer in (t for t in medians if t.startswith("reladiff")):
            o, p = medians[ours], medians[peer]
            print(
                f"   {ours} vs {peer}: ours/reladiff = {o / p:5.2f}x, reladiff/ours = {p / o:5.2f}x"
            )


if __name__ == "__main__":
    main()
