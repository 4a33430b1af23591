"""Benchmark: cold `cutover stack up` (jars cached, empty state) against a warm no-op `up`.

Runs an isolated stack (its own state directory and free ports) so it never disturbs a
running one; prints the figures and the ratio, then stops and wipes the isolated stack.
Run: .venv/bin/python bench/bench_stack.py [--rounds N]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from rehearsal.stack import manager
from rehearsal.stack.topology import Topology, load_topology


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def isolated_topology(state_dir: Path) -> Topology:
    base = load_topology()
    return replace(
        base,
        state_dir=state_dir,
        postgres=replace(base.postgres, port=_free_port()),
        kafka=replace(base.kafka, port=_free_port(), controller_port=_free_port()),
        connect=replace(base.connect, port=_free_port(), group_id="bench-connect"),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    cold, warm, per_component = [], [], []
    for _ in range(args.rounds):
        with tempfile.TemporaryDirectory(prefix="cutover-bench-") as tmp:
            topo = isolated_topology(Path(tmp))
            try:
                report = manager.up(topo)
                cold.append(report.seconds)
                per_component.append({c.name: round(c.seconds, 1) for c in report.components})
                t0 = time.monotonic()
                manager.up(topo)
                warm.append(time.monotonic() - t0)
            finally:
                manager.down(topo, wipe=True)
    load = os.getloadavg()[0]
    print(
        f"cold stack up (jars cached, empty state): median {statistics.median(cold):.1f}s over {len(cold)} "
        f"rounds {[round(c, 1) for c in cold]}; per component (last): {per_component[-1]}"
    )
    print(f"warm stack up (no-op): median {statistics.median(warm):.2f}s")
    print(
        f"ratio cold/warm: {statistics.median(cold) / statistics.median(warm):.0f}x; goal: cold < 90s"
    )
    print(f"conditions: {os.cpu_count()} cores, load average at end {load:.1f}")


if __name__ == "__main__":
    main()
