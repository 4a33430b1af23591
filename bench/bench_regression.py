"""No-regression benchmark: a baseline commit's shadow pipeline against a newer commit's.

Each commit is checked out in its own detached git worktree, outside the repository
(``$CUTOVER_BENCH_TREES``, default ``~/.cache/cutover-bench``; reused when present)
and runs *its own* ``bench/bench_shadow.py`` (the sample's order read model and full flow,
serial and written behind, beside the raw-consume and floor controls) with the same
arguments, with the repo's ``.venv`` python and the tree's root first on ``PYTHONPATH`` (each
tree imports its own code; checked before the first run). Runs are interleaved in pairs
whose order alternates (old, new, new, old, old, new, ...), so a slow stretch of the shared
machine does not land on one side. Per variant it reports each side's median events/s, the
ratio of the medians new/old, the median of the per-pair ratios and, for the worker
variants, the median CPU time per event of each side; the goal is new/old >=
0.9 for the worker variants (``raw`` and ``floor`` do not run the shadow runtime: their
ratios show the run's noise). Run:

    .venv/bin/python bench/bench_regression.py --runs 5 --events 50000
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PYTHON = ROOT / ".venv" / "bin" / "python"
BASELINE = "557c96f"
WORKER_VARIANTS = ("projection", "full-flow-serial", "full-flow")
CONTROLS = ("raw", "floor")
GOAL = 0.9
TREES = Path(os.environ.get("CUTOVER_BENCH_TREES", Path.home() / ".cache" / "cutover-bench"))


def git(*args: str, cwd: Path = ROOT) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


def worktree(commit: str) -> Path:
    """A detached worktree of ``commit`` under :data:`TREES` (reused when already there)."""
    sha = git("rev-parse", "--verify", f"{commit}^{{commit}}")
    path = TREES / f"tree-{sha[:10]}"
    if path.exists() and git("rev-parse", "HEAD", cwd=path) == sha:
        return path
    if path.exists():
        raise SystemExit(f"{path} exists but is not a worktree of {sha[:10]}: remove it")
    path.parent.mkdir(parents=True, exist_ok=True)
    git("worktree", "add", "--detach", str(path), sha)
    return path


def tree_env(tree: Path) -> dict[str, str]:
    """The tree's code first on the path; the running stack's state (its password) is this
    repository's, whichever tree runs."""
    state = os.environ.get("CUTOVER_STATE_DIR", str(ROOT / ".cutover"))
    return {**os.environ, "PYTHONPATH": str(tree), "CUTOVER_STATE_DIR": state}


def check_imports(tree: Path) -> None:
    """The tree's ``shadow`` package is the one imported (not the editable install's)."""
    found = subprocess.run(
        [str(PYTHON), "-c", "import shadow; print(shadow.__file__)"],
        cwd=tree, env=tree_env(tree), check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    if not found.startswith(str(tree)):
        raise SystemExit(f"{tree}: imports shadow from {found}")


def bench_once(tree: Path, bench_args: list[str]) -> dict[str, Any]:
    proc = subprocess.run(
        [str(PYTHON), str(tree / "bench" / "bench_shadow.py"), "--json", *bench_args],
        cwd=tree, env=tree_env(tree), capture_output=True, text=True, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        raise SystemExit(f"{tree}: bench_shadow failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def summarise(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    variants = [v for v in (*CONTROLS, *WORKER_VARIANTS) if v in runs["old"][0]]
    out: dict[str, Any] = {}
    for v in variants:
        old = [r[v]["events_per_s"] for r in runs["old"]]
        new = [r[v]["events_per_s"] for r in runs["new"]]
        pairs = [n / o for o, n in zip(old, new, strict=True) if o]
        out[v] = {
            "old": old,
            "new": new,
            "old_median": round(statistics.median(old)),
            "new_median": round(statistics.median(new)),
            "ratio_of_medians": round(statistics.median(new) / statistics.median(old), 3),
            "median_pair_ratio": round(statistics.median(pairs), 3),
            "pair_ratio_range": [round(min(pairs), 3), round(max(pairs), 3)],
        }
        if v in WORKER_VARIANTS:  # the process's CPU per event: less swayed by the others' load
            cpu_old = statistics.median(r[v]["cpu_us_per_event"] for r in runs["old"])
            cpu_new = statistics.median(r[v]["cpu_us_per_event"] for r in runs["new"])
            out[v]["cpu_us_per_event_medians"] = [round(cpu_old, 1), round(cpu_new, 1)]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default=BASELINE, help="old commit (default %(default)s)")
    parser.add_argument("--new", default="HEAD", help="new commit (default HEAD)")
    parser.add_argument("--runs", type=int, default=5, help="runs of each tree (>= 5 for goal)")
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--out", help="also write the JSON report to this file")
    parser.add_argument("--json", action="store_true")
    args, extra = parser.parse_known_args(argv)
    trees = {"old": worktree(args.baseline), "new": worktree(args.new)}
    for tree in trees.values():
        check_imports(tree)
    bench_args = ["--events", str(args.events), *extra]
    runs: dict[str, list[dict[str, Any]]] = {"old": [], "new": []}
    started = time.time()
    loads = [os.getloadavg()[0]]
    for i in range(args.runs):
        for side in ("old", "new") if i % 2 == 0 else ("new", "old"):
            result = bench_once(trees[side], bench_args)
            runs[side].append(result)
            loads.append(os.getloadavg()[0])
            if not args.json:
                rates = {v: result[v]["events_per_s"] for v in (*CONTROLS, *WORKER_VARIANTS)}
                print(f"run {i + 1} {side}: {rates}", flush=True)
    report = {
        "at": datetime.fromtimestamp(started, UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "minutes": round((time.time() - started) / 60, 1),
        "old": {"commit": git("rev-parse", "HEAD", cwd=trees["old"])[:10]},
        "new": {"commit": git("rev-parse", "HEAD", cwd=trees["new"])[:10]},
        "bench_args": bench_args,
        "runs_each": args.runs,
        "load_average": [round(min(loads), 1), round(max(loads), 1)],
        "variants": summarise(runs),
    }
    if args.out:
        Path(args.out).write_text(json.dumps({**report, "detail": runs}, indent=2))
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(
        f"old {report['old']['commit']} vs new {report['new']['commit']}: "
        f"{args.runs} runs each, {args.events} events, load {report['load_average']}"
    )
    for v, s in report["variants"].items():
        goal = ""
        if v in WORKER_VARIANTS:
            goal = "  goal >= 0.9 " + ("met" if s["ratio_of_medians"] >= GOAL else "NOT met")
        print(
            f"{v:>16}: old {s['old_median']:>9,}  new {s['new_median']:>9,}  "
            f"new/old {s['ratio_of_medians']:.3f} (pairs: median {s['median_pair_ratio']:.3f}, "
            f"{s['pair_ratio_range'][0]:.3f}-{s['pair_ratio_range'][1]:.3f}){goal}"
        )
        if "cpu_us_per_event_medians" in s:
            cpu_old, cpu_new = s["cpu_us_per_event_medians"]
            print(f"{'':>16}  CPU/event median: old {cpu_old} µs, new {cpu_new} µs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
