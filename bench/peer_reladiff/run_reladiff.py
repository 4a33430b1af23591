"""One reladiff run, inside reladiff's own virtualenv (bench/peer_reladiff/setup.sh).

Called by bench/bench_reladiff.py: the two table URLs come in the environment
(RELADIFF_URL1, RELADIFF_URL2: they hold the password, so never on the command line); prints
one JSON line: wall-clock seconds from connecting to the last difference, the number of
differing keys, this process's peak RSS; the keys go to ``--keys FILE``, one a line.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time

from reladiff import connect_to_table, diff_tables


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--table1", required=True)
    ap.add_argument("--table2", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--columns", required=True, help="comma-separated compared columns")
    ap.add_argument("--algorithm", choices=("hashdiff", "joindiff"), required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--keys", required=True)
    args = ap.parse_args()
    start = time.perf_counter()
    t1 = connect_to_table(
        os.environ["RELADIFF_URL1"], args.table1, args.key, thread_count=args.threads
    )
    t2 = connect_to_table(
        os.environ["RELADIFF_URL2"], args.table2, args.key, thread_count=args.threads
    )
    diff = diff_tables(
        t1,
        t2,
        extra_columns=tuple(args.columns.split(",")),
        algorithm=args.algorithm,
        max_threadpool_size=args.threads,
    )
    keys = {row[0] for _sign, row in diff}
    seconds = time.perf_counter() - start
    with open(args.keys, "w", encoding="utf-8") as out:
        out.writelines(f"{k}\n" for k in sorted(keys))
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "keys": len(keys), "rss_mb": rss_mb}))


if __name__ == "__main__":
    main()
