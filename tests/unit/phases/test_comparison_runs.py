"""One comparators run per comparison a gate makes: the invariants come off the same run.

The real comparators-backed ports run over a counting fake of the comparators call, so
every gate evaluation's runs are counted without a database.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from comparators.commands import RunOutcome
from comparators.invariants import Violation
from comparators.plan import CompareConfig
from comparators.result import ComparisonResult
from comparators.verdict import decide
from phases.adapters_comparators import ComparatorsInvariants, ComparatorsRunner
from phases.fakes import fake_ports
from phases.plan import Plan, parse_plan
from phases.runner import Runner

SAMPLE = Path(__file__).resolve().parents[3] / "phases" / "examples" / "sample-plan.yaml"
ENV = {"LEGACY_DATABASE_URL": "postgresql://nobody@localhost:1/never-read"}


@dataclass
class CountingComparators:
    """Stands for ``comparators.commands.run_compare``: counts runs, answers ``keys`` matches
    and the given per-``invariant@side`` violations."""

    keys: int = 5000
    violations: dict[str, int] = field(default_factory=dict)
    runs: list[tuple[str, str]] = field(default_factory=list)
    configs: list[CompareConfig] = field(default_factory=list)

    def __call__(self, config: CompareConfig, out_dir: Path) -> RunOutcome:
        self.runs.append((config.context, config.candidate.name))
        self.configs.append(config)
        samples = tuple(
            Violation(name_at_side.split("@")[0], name_at_side.split("@")[1], f"o{i}", "twice")
            for i, name_at_side in enumerate(self.violations)
        )
        result = ComparisonResult(
            counts=(("match", self.keys),),
            violations=tuple(sorted(self.violations.items())),
            violation_samples=samples,
        )
        return RunOutcome(result, decide(result, config.policy), {}, ())


def sample_plan(tmp_path: Path, **dual_write: Any) -> Plan:
    """The sample plan with a verify source per context (never read: the run is faked)."""
    data: dict[str, Any] = yaml.safe_load(SAMPLE.read_text())
    data["reports_dir"] = str(tmp_path / "reports")
    for spec in data["contexts"].values():
        spec["outcome"]["verify_query"] = spec["outcome"]["sync_query"]
    data["gates"]["dual_write"].update(dual_write)
    return parse_plan(data)


@pytest.fixture
def counting() -> CountingComparators:
    return CountingComparators()


@pytest.fixture
def comparing_runner(
    make_runner: Callable[..., Runner], tmp_path: Path, counting: CountingComparators
) -> Runner:
    """A phase runner on the sample plan whose comparison and invariants ports are the real
    comparators-backed ones over ``counting``."""
    plan = sample_plan(tmp_path)
    comparisons = ComparatorsRunner(plan, ENV, tmp_path / "reports", execute=counting)
    ports = replace(
        fake_ports(),
        comparison=comparisons,
        invariants=ComparatorsInvariants(plan, runner=comparisons),
    )
    return make_runner(p=ports, pl=plan)


def test_one_run_answers_the_comparison_and_the_invariants(
    tmp_path: Path, counting: CountingComparators
) -> None:
    counting.violations = {"payment_captured_once@event": 2, "payment_captured_once@sync": 1}
    runner = ComparatorsRunner(sample_plan(tmp_path), ENV, execute=counting)

    summary = runner.compare("payment", candidate="event", window_seconds=600, min_keys=10)
    results = summary.invariant_results(["payment_captured_once", "payment_equals_total"])

    assert counting.runs == [("payment", "event")]
    assert summary.violations == {"payment_captured_once": 3}
    assert [(r.name, r.holds, r.violations) for r in results] == [
        ("payment_captured_once", False, 3),
        ("payment_equals_total", True, 0),
    ]
    assert "o0 (event): twice" in results[0].detail


def test_the_invariants_port_reads_per_side_violation_counts_in_one_run(
    tmp_path: Path, counting: CountingComparators
) -> None:
    counting.violations = {"payment_equals_total@event": 4}
    plan = sample_plan(tmp_path)
    invariants = ComparatorsInvariants(plan, runner=ComparatorsRunner(plan, ENV, execute=counting))

    results = invariants.check("payment", ["payment_captured_once", "payment_equals_total"], 900)

    assert len(counting.runs) == 1
    assert [(r.name, r.holds, r.violations) for r in results] == [
        ("payment_captured_once", True, 0),
        ("payment_equals_total", False, 4),
    ]
    assert invariants.check("payment", [], 900) == [] and len(counting.runs) == 1


def test_each_gate_evaluation_runs_each_comparison_once(
    comparing_runner: Runner, counting: CountingComparators
) -> None:
    runner = comparing_runner
    contexts = runner.plan.context_names()
    runner.advance(target=3)
    assert counting.runs == []

    counting.runs.clear()
    assert runner.check_gate().exit_code == 0  # dual-write gate: sync vs event per context
    assert sorted(counting.runs) == sorted((c, "event") for c in contexts)

    for c in contexts:
        runner.advance(context=c)
    counting.runs.clear()
    assert runner.check_gate(context="payment").exit_code == 0  # drill, then reverse comparison
    assert counting.runs == [("payment", "event"), ("payment", "verify")]

    runner.advance()
    counting.runs.clear()
    assert runner.check_gate().exit_code == 0  # remove-sync gate: invariants, one run each
    assert sorted(counting.runs) == sorted((c, "event") for c in contexts)


def test_a_broken_invariant_fails_the_remove_sync_gate_through_the_real_port(
    comparing_runner: Runner, counting: CountingComparators
) -> None:
    runner = comparing_runner
    runner.advance(target=3)
    for c in runner.plan.context_names():
        runner.advance(context=c)
    runner.advance()
    captured_once = "legacy_app.invariants:payment_captured_once"  # as the sample plan names it
    counting.violations = {f"{captured_once}@event": 2}

    outcome = runner.check_gate(context="payment")

    assert outcome.gate is not None and outcome.exit_code == 4
    assert any(r.startswith(f"payment: invariant:{captured_once}:") for r in outcome.gate.reasons)


def test_the_gates_noise_floor_reaches_the_comparator(
    tmp_path: Path, counting: CountingComparators
) -> None:
    counting.keys = 1000
    runner = ComparatorsRunner(sample_plan(tmp_path, noise_floor=0.002), ENV, execute=counting)

    summary = runner.compare("order", candidate="event", window_seconds=600, min_keys=10)

    assert counting.configs[0].policy.noise_floor == 0.002
    assert (summary.noise_floor, summary.adjusted_match_rate) == (0.002, 1.0)


def test_each_run_judges_the_look_back_window_it_is_called_with(
    tmp_path: Path, counting: CountingComparators
) -> None:
    plan = sample_plan(tmp_path)
    runner = ComparatorsRunner(plan, ENV, execute=counting)

    runner.compare("order", candidate="event", window_seconds=600, min_keys=10)
    runner.compare("order", candidate="verify", window_seconds=120, min_keys=10)
    ComparatorsInvariants(plan, runner=runner).check("order", ["payment_captured_once"], 900)

    assert [c.window for c in counting.configs] == [
        timedelta(seconds=600),
        timedelta(seconds=120),
        timedelta(seconds=900),
    ]
