"""Benchmark: wall time of `cutover rehearse` (default scenario) against the same rehearsal
with no faults, run in this process one after the other; prints both and the ratio.

Run: .venv/bin/python bench/bench_rehearsal.py [--seconds 15]
"""

from __future__ import annotations

import argparse
import os
import time

from rehearsal.run import RehearseOptions, rehearse
from rehearsal.scenario import load_scenario
from rehearsal.stack.topology import load_topology


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=15.0, help="traffic seconds per phase")
    args = parser.parse_args()
    topo = load_topology()
    default = load_scenario("default")
    quiet = default.model_copy(update={"faults": ()})
    figures = {}
    for label, scenario in (("no faults", quiet), ("default (3 faults)", default)):
        t0 = time.monotonic()
        result = rehearse(topo, RehearseOptions(scenario, seconds=args.seconds))
        figures[label] = time.monotonic() - t0
        sent = sum(r.orders_sent for r in result.rows)
        print(
            f"rehearsal {label}: {figures[label]:.0f}s wall, passed={result.passed}, {sent} requests"
        )
    ratio = figures["default (3 faults)"] / figures["no faults"]
    print(f"ratio with faults / without: {ratio:.2f}x")
    print(
        f"conditions: {os.cpu_count()} cores, {args.seconds:.0f}s of traffic per phase at the scenario rate, "
        f"load average {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
