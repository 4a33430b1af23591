"""One plan model: the comparators' configuration is a pure function of a plan context, and
nothing the plan does not state is compared as a decimal, in any order, or checked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from comparators.errors import PlanError
from comparators.plan import CompareConfig
from comparators.sources import CallableSource, SqlSource
from cutover_common.errors import EnvironmentVariableMissing
from phases.adapters_comparators import ComparatorsRunner
from phases.compare_config import compare_config
from phases.errors import AdapterUnavailable, PlanInvalid
from phases.plan import Plan, parse_plan
from tests.support.plans import full_plan

ENV = {"DB": "postgresql://u:p@h/db"}


def plan_of(context: dict[str, Any]) -> Plan:
    text = yaml.safe_dump(
        {"system": {"database": {"url_env": "DB"}}, "contexts": {"loan": context}}
    )
    return parse_plan(yaml.safe_load(full_plan(text)))


def bare(**outcome: str) -> dict[str, Any]:
    return {"outcome": {"key": "loan_id", "sync_query": "SELECT 1", **outcome}}


def test_rules_the_plan_does_not_state_compare_nothing_as_decimal_or_in_any_order() -> None:
    config = compare_config(plan_of(bare(event_query="SELECT 2")), "loan", env=ENV)
    options = config.options
    assert (options.key, options.decimals, options.unordered) == ("loan_id", (), ())
    assert options.ignore == ("produced_at", "source", "write_mode", "inconclusive")
    assert (config.invariants, config.event_type) == ((), None)


def test_the_rules_the_plan_states_are_the_options() -> None:
    context = bare(event_query="SELECT 2") | {
        "compare": {"decimals": ["fee"], "unordered": ["holds"], "tolerance": {"fee": 0.01}},
        "invariants": ["pkg.rules:one_hold_per_loan"],
        "events": ["loan.opened"],
    }
    config = compare_config(plan_of(context), "loan", env=ENV)
    assert (config.options.decimals, config.options.unordered) == (("fee",), ("holds",))
    assert [t.path for t in config.options.tolerances] == ["fee"]
    assert (config.invariants, config.event_type) == (
        ("pkg.rules:one_hold_per_loan",),
        "loan.opened",
    )


def test_an_outcome_without_a_key_is_an_invalid_plan_naming_the_field() -> None:
    context = {"outcome": {"sync_query": "SELECT 1", "event_query": "SELECT 2"}}
    with pytest.raises(PlanInvalid) as info:
        plan_of(context)
    assert "contexts.loan.outcome.key" in [i.path for i in info.value.issues]


def test_the_verify_comparison_has_the_async_event_path_as_control_and_verify_as_candidate() -> (
    None
):
    context = bare(
        event_query="SELECT 2",
        async_event_callable="pkg.loans:async_events",
        verify_query="SELECT 3",
    )
    config = compare_config(plan_of(context), "loan", candidate="verify", env=ENV)
    assert isinstance(config.control, CallableSource) and config.control.name == "event"
    assert isinstance(config.candidate, SqlSource) and config.candidate.name == "verify"
    assert config.pipeline is None  # the async gate reads no shadow group position


def test_a_database_variable_that_is_not_set_is_named() -> None:
    with pytest.raises(EnvironmentVariableMissing, match="DB"):
        compare_config(plan_of(bare(event_query="SELECT 2")), "loan", env={})


def test_a_context_the_plan_lacks_is_a_plan_error_listing_the_contexts() -> None:
    with pytest.raises(PlanError, match="have: loan"):
        compare_config(plan_of(bare(event_query="SELECT 2")), "order", env=ENV)


def test_the_comparison_port_writes_no_plan_file(tmp_path: Path) -> None:
    seen: list[CompareConfig] = []

    def execute(config: CompareConfig, out_dir: Path) -> Any:
        seen.append(config)
        return None

    runner = ComparatorsRunner(
        plan_of(bare(event_query="SELECT 2")), ENV, tmp_path, execute=execute
    )
    runner._run("loan", "event", 5, 60)
    assert [c.options.key for c in seen] == ["loan_id"] and seen[0].policy.min_settled_keys == 5
    assert list(tmp_path.rglob("plan.json")) == []


def test_a_verify_comparison_without_verify_runs_leaves_the_gate_input_unknown(
    tmp_path: Path,
) -> None:
    runner = ComparatorsRunner(plan_of(bare(event_query="SELECT 2")), ENV, tmp_path)
    with pytest.raises(AdapterUnavailable, match="verify_query or verify_callable"):
        runner._run("loan", "verify", None, 60)
