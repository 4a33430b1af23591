"""The plan's ``compare.explain_limit``: an integer >= 1 (one clear line otherwise), carried
to the comparators' options beside ``sample_limit``."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from comparators.rules import CompareOptions
from phases.cli import cli
from phases.compare_config import options_from
from phases.plan import CompareRules, load_plan, parse_plan, plan_json_schema
from tests.unit.phases.conftest import SAMPLE
from tests.unit.phases.test_plan import _mutate, write


def test_explain_limit_from_the_plan_reaches_the_compare_options() -> None:
    plan = parse_plan(_mutate("contexts.payment.compare.explain_limit", 5))
    rules = plan.contexts["payment"].compare
    assert options_from(rules, "order_id").explain_limit == 5


def test_without_explain_limit_the_options_keep_the_engines_default() -> None:
    rules = load_plan(SAMPLE).contexts["payment"].compare
    default = CompareOptions(key="order_id").explain_limit
    assert options_from(rules, "order_id").explain_limit == default == 1000
    assert CompareRules().explain_limit == default


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, "Input should be greater than or equal to 1"),
        (-3, "Input should be greater than or equal to 1"),
        ("many", "Input should be a valid integer"),
        (2.5, "Input should be a valid integer"),
    ],
)
def test_bad_explain_limit_is_one_line_with_its_path_and_exit_2(
    tmp_path: Path, value: object, expected: str
) -> None:
    path = write(tmp_path, _mutate("contexts.payment.compare.explain_limit", value))
    result = CliRunner().invoke(cli, ["plan", "validate", str(path)])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    wanted = f"contexts.payment.compare.explain_limit: {expected}"
    assert any(line.startswith(wanted) for line in lines), lines
    assert "Traceback" not in result.output


def test_plan_schema_states_explain_limit_minimum() -> None:
    rules = plan_json_schema()["$defs"]["CompareRules"]["properties"]["explain_limit"]
    assert (rules["type"], rules["minimum"], rules["default"]) == ("integer", 1, 1000)
