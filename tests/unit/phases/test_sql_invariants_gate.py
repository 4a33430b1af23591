"""Invariants given as SQL predicates in the plan reach the comparison and phase 5's gate."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from comparators.invariants import SqlInvariant
from phases.adapters_comparators import ComparatorsInvariants, ComparatorsRunner
from phases.fakes import fake_ports
from phases.plan import parse_plan
from phases.runner import Runner
from tests.unit.phases.test_comparison_runs import ENV, SAMPLE, CountingComparators


def test_a_violated_sql_invariant_fails_the_remove_sync_gate(
    make_runner: Callable[..., Runner], tmp_path: Path
) -> None:
    data: dict[str, Any] = yaml.safe_load(SAMPLE.read_text())
    data["reports_dir"] = str(tmp_path / "reports")
    for spec in data["contexts"].values():  # phase 4's verify runs (never read: faked)
        spec["outcome"]["verify_query"] = spec["outcome"]["sync_query"]
    data["contexts"]["payment"]["sql_invariants"] = [{"name": "non_negative", "sql": "amount >= 0"}]
    plan = parse_plan(data)
    counting = CountingComparators()
    comparisons = ComparatorsRunner(plan, ENV, tmp_path / "reports", execute=counting)
    ports = replace(
        fake_ports(),
        comparison=comparisons,
        invariants=ComparatorsInvariants(plan, runner=comparisons),
    )
    runner = make_runner(p=ports, pl=plan)
    runner.advance(target=3)
    for c in runner.plan.context_names():
        runner.advance(context=c)
    runner.advance()
    counting.violations = {"non_negative@candidate": 1}

    outcome = runner.check_gate(context="payment")

    configs = [c for c in counting.configs if c.context == "payment"]
    assert configs[-1].sql_invariants == (SqlInvariant("non_negative", "amount >= 0"),)
    assert outcome.gate is not None and outcome.exit_code == 4
    assert any(r.startswith("payment: invariant:non_negative:") for r in outcome.gate.reasons)
