"""Benchmark: the comparators' engine vs a naive DeepDiff-per-pair loop, plus peak memory.

Run: .venv/bin/python bench/bench_compare.py [--pairs 1000000] [--sample 20000]

* (a) speed: the engine (normalise -> blake2b digest -> deepdiff only on digest
  mismatches, streaming merge join) over N outcome pairs with 0.1 % divergent;
  the naive loop (``DeepDiff`` on every pair) runs on a SAMPLE of the same pairs
  and its time is EXTRAPOLATED linearly to N. Both classify the sample; the
  classifications must be identical.
* times are CPU seconds of this process (``time.process_time``), which the
  other tenants of a shared machine disturb far less than wall-clock time.
* (c) memory: ru_maxrss of the process after the N-pair engine run (the naive
  loop runs afterwards), and the tracemalloc peak of a separate engine run.

Data are generated on the fly (``--pairs`` never live in memory at once);
generation time is measured alone and reported, so engine time is shown both
end to end and net of generation. Not a timed test: it prints figures.
"""

from __future__ import annotations

import argparse
import gc
import platform
import resource
import time
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from deepdiff import DeepDiff

from comparators.diff import Observation, Scope, compare, observe
from comparators.result import Category
from comparators.rules import CompareOptions

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SKUS = [f"SKU-{n:04d}" for n in range(1, 51)]


def record(i: int, side: str, every: int = 1000) -> dict[str, Any]:
    """One outcome in ``Outcome.to_dict()`` form; every ``every``-th candidate has a wrong total."""
    n = i % 50
    price = 5 + 1.25 * (n + 1)
    qty = 1 + i % 3
    total = f"{price * qty:.2f}"
    if side == "event" and every and i % every == 7:
        total = f"{price * qty + 0.01:.2f}"
    at = T0 + timedelta(milliseconds=i)
    if side == "event":
        at += timedelta(milliseconds=150 + i % 400)
    paid = i % 20 != 0
    return {
        "order_id": f"ord-{i:08d}",
        "correlation_id": f"c-{i:08d}",
        "status": "completed" if paid else "failed",
        "total": total,
        "reservation": {"lines": [{"sku": SKUS[n], "qty": qty}], "released": not paid},
        "payment": {
            "amount": f"{price * qty:.2f}",
            "status": "captured" if paid else "declined",
            "attempts": 1,
        },
        "shipment": {
            "carrier": "express" if price * qty >= 100 else "standard",
            "status": "created",
        }
        if paid
        else None,
        "notifications": [
            {
                "template": "order_confirmation" if paid else "payment_declined",
                "recipient": f"u{i % 997}@example.com",
            }
        ],
        "produced_at": at.isoformat(),
        "source": side,
    }


def stream(n: int, side: str, start: int = 0) -> Iterator[Observation]:
    for i in range(start, start + n):
        rec = record(i, side)
        yield Observation(rec["order_id"], rec, datetime.fromisoformat(rec["produced_at"]))


def naive_classify(control: list[Observation], candidate: list[Observation]) -> dict[str, str]:
    out = {}
    for c, d in zip(control, candidate, strict=True):
        diff = DeepDiff(
            c.record,
            d.record,
            exclude_paths=["root['produced_at']", "root['source']"],
            ignore_order=True,
        )
        out[c.key] = "divergent" if diff else "match"
    return out


def maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--pairs", type=int, default=1_000_000)
    ap.add_argument("--sample", type=int, default=20_000)
    ap.add_argument(
        "--trace-pairs", type=int, default=1_000_000, help="pairs for the tracemalloc run"
    )
    args = ap.parse_args()
    opts = CompareOptions(sample_limit=20, key="order_id")
    now = T0 + timedelta(days=1)
    n = args.pairs
    print(
        f"python {platform.python_version()} on {platform.machine()}, {n:,} pairs, 0.1 % divergent"
    )
    rss0 = maxrss_mb()

    t = time.process_time()
    for _ in zip(stream(n, "sync"), stream(n, "event"), strict=True):
        pass
    gen = time.process_time() - t
    print(f"data generation alone:            {gen:8.1f} s")

    gc.collect()
    t = time.process_time()
    result = compare(stream(n, "sync"), stream(n, "event"), opts, Scope(now=now))
    engine = time.process_time() - t
    rss1 = maxrss_mb()
    print(f"engine, end to end:               {engine:8.1f} s  ({engine / n * 1e6:.1f} us/pair)")
    print(
        f"engine, net of generation:        {engine - gen:8.1f} s  ({(engine - gen) / n * 1e6:.1f} us/pair)"
    )
    print(f"  counts: {dict(result.counts)}  paths: {dict(result.paths)}")
    assert result.count(Category.DIVERGENT) == n // 1000 + (1 if n % 1000 > 7 else 0)

    s = args.sample
    control, candidate = list(stream(s, "sync")), list(stream(s, "event"))
    t = time.process_time()
    naive = naive_classify(control, candidate)
    naive_s = time.process_time() - t
    t = time.process_time()
    ours = {r.key: str(r.category) for r in observe(control, candidate, opts, Scope(now=now))}
    ours_s = time.process_time() - t
    same = ours == naive
    naive_full = naive_s / s * n
    print(
        f"naive DeepDiff loop on a SAMPLE of {s:,} pairs: {naive_s:.1f} s ({naive_s / s * 1e6:.0f} us/pair)"
    )
    print(f"engine on the same sample:        {ours_s:8.2f} s ({ours_s / s * 1e6:.1f} us/pair)")
    print(
        f"same classification on the sample: {same} ({sum(v == 'divergent' for v in naive.values())} divergent)"
    )
    print(f"naive loop EXTRAPOLATED to {n:,}: {naive_full:8.1f} s")
    print(f"speed-up (extrapolated naive / engine end to end): {naive_full / engine:6.1f}x")
    print(f"speed-up (extrapolated naive / engine net):        {naive_full / (engine - gen):6.1f}x")
    print(f"speed-up on the sample itself (naive / engine):     {naive_s / ours_s:6.1f}x")
    print(f"peak RSS (ru_maxrss) after the {n:,}-pair run: {rss1:.0f} MB (at start {rss0:.0f} MB)")
    del control, candidate, naive, ours
    gc.collect()

    m = args.trace_pairs
    tracemalloc.start()
    t = time.process_time()
    compare(stream(m, "sync"), stream(m, "event"), opts, Scope(now=now))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        f"tracemalloc peak over {m:,} pairs: {peak / 2**20:.1f} MB (run took {time.process_time() - t:.0f} s under tracing)"
    )
    assert same, "classifications differ"


if __name__ == "__main__":
    main()
