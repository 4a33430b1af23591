from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from phases.cli import cli
from phases.errors import PlanInvalid
from phases.plan import load_plan, parse_plan, plan_json_schema
from tests.unit.phases.conftest import SAMPLE


def sample() -> dict[str, Any]:
    return yaml.safe_load(SAMPLE.read_text())


def write(tmp_path: Path, data: Any, name: str = "plan.yaml") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return path


def test_sample_plan_is_valid_and_has_the_five_sample_contexts() -> None:
    plan = load_plan(SAMPLE)
    assert sorted(plan.contexts) == ["email", "inventory", "order", "payment", "shipping"]
    assert plan.context_names()[0] == "email"
    assert plan.gates.dual_write.min_settled_keys == 1000
    assert plan.contexts["payment"].compare.tolerance == {"amount": 0.005}
    assert plan.system.database.url_env == "LEGACY_DATABASE_URL"


def test_plan_digest_is_stable_and_changes_with_content() -> None:
    data = sample()
    assert parse_plan(data).digest() == parse_plan(copy.deepcopy(data)).digest()
    data["gates"]["dual_write"]["min_settled_keys"] = 5
    assert parse_plan(data).digest() != load_plan(SAMPLE).digest()


def _mutate(path: str, value: Any, *, delete: bool = False) -> dict[str, Any]:
    data = sample()
    node: Any = data
    parts = path.split(".")
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if delete:
        del node[parts[-1]]
    else:
        node[parts[-1]] = value
    return data


MALFORMED: list[tuple[str, dict[str, Any], str]] = [
    (
        "wrong type in tolerance",
        _mutate("contexts.payment.compare.tolerance", {"total": "a lot"}),
        "contexts.payment.compare.tolerance.total: Input should be a valid number",
    ),
    (
        "unknown context in depends_on",
        _mutate("contexts.order.depends_on", ["inventory", "billing"]),
        "contexts.order.depends_on.1: unknown context 'billing'",
    ),
    (
        "missing gates section",
        _mutate("gates", None, delete=True),
        "gates: Field required",
    ),
    (
        "missing dual_write gate",
        _mutate("gates.dual_write", None, delete=True),
        "gates.dual_write: Field required",
    ),
    (
        "inline connect password",
        _mutate("system.connect.password", "hunter22"),
        "system.connect.password: inline secret not allowed",
    ),
    (
        "database url with inline credentials",
        _mutate(
            "system.database",
            {"url_env": "LEGACY_DATABASE_URL", "comment": "postgresql://app:s3cret@db:5432/legacy"},
        ),
        "system.database.comment: URL with an inline password",
    ),
    (
        "unknown context in a gate",
        _mutate("gates.async.contexts", ["payment", "ledger"]),
        "gates.async.contexts.1: unknown context 'ledger'",
    ),
    (
        "zero partitions",
        _mutate("contexts.payment.topic.partitions", 0),
        "contexts.payment.topic.partitions: Input should be greater than or equal to 1",
    ),
    (
        "bad verdict policy",
        _mutate("gates.dual_write.on_fail", "explode"),
        "gates.dual_write.on_fail: Input should be 'revert' or 'pause'",
    ),
    (
        "typo in a field name",
        _mutate("contexts.payment.compare.settle_secs", 5),
        "contexts.payment.compare.settle_secs: unknown field",
    ),
    (
        "unknown context in rollout order",
        _mutate("rollout_order", ["email", "warehouse"]),
        "rollout_order.1: unknown context 'warehouse'",
    ),
    (
        "inline kafka token",
        _mutate("system.kafka.sasl_token", "abc123"),
        "system.kafka.sasl_token: inline secret not allowed",
    ),
    (
        "match rate above one",
        _mutate("gates.dual_write.min_match_rate", 1.5),
        "gates.dual_write.min_match_rate: Input should be less than or equal to 1",
    ),
    (
        "env var reference that is not an env var name",
        _mutate("system.database.url_env", "postgres://x"),
        "system.database.url_env: String should match pattern",
    ),
    (
        "auth header inline",
        _mutate("contexts.payment.sync_endpoints", ["http://localhost:5002/charge"])
        | {"headers": {"Authorization": "Bearer abc.def"}},
        "headers.Authorization: inline secret not allowed",
    ),
]


@pytest.mark.parametrize(("case", "data", "expected"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_plan_validate_reports_field_path_and_exits_2(
    tmp_path: Path, case: str, data: dict[str, Any], expected: str
) -> None:
    path = write(tmp_path, data)
    result = CliRunner().invoke(cli, ["plan", "validate", str(path)])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert any(line.startswith(expected) for line in lines), lines


def test_plan_validate_reports_every_issue_one_line_each(tmp_path: Path) -> None:
    data = _mutate("contexts.payment.topic.partitions", "six")
    data["contexts"]["order"]["depends_on"] = ["nowhere"]
    data["system"]["connect"]["token"] = "t0ps3cret"
    result = CliRunner().invoke(cli, ["plan", "validate", str(write(tmp_path, data))])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert lines[0].startswith("system.connect.token: inline secret")
    assert any(
        line.startswith("contexts.payment.topic.partitions: Input should be a valid integer")
        for line in lines
    )
    assert "t0ps3cret" not in result.output


def test_cross_reference_issues_surface_once_schema_passes(tmp_path: Path) -> None:
    data = _mutate("contexts.order.depends_on", ["nowhere"])
    with pytest.raises(PlanInvalid) as info:
        parse_plan(data)
    assert str(info.value.issues[0]).startswith("contexts.order.depends_on.0")
    assert info.value.exit_code == 2


def test_invalid_yaml_reports_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "system: {database: [\ncontexts: :\n")
    result = CliRunner().invoke(cli, ["plan", "validate", str(path)])
    assert result.exit_code == 2
    assert result.output.startswith("line ")


def test_missing_plan_file_is_invalid(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["plan", "validate", str(tmp_path / "absent.yaml")])
    assert result.exit_code == 2
    assert result.output.startswith("<file>: cannot read")


def test_plan_validate_json_lists_errors(tmp_path: Path) -> None:
    path = write(tmp_path, _mutate("gates.remove_sync", None, delete=True))
    result = CliRunner().invoke(cli, ["plan", "validate", "--json", str(path)])
    assert result.exit_code == 2
    doc = json.loads(result.output)
    assert doc["valid"] is False
    (error,) = doc["errors"]
    assert error["path"] == "gates.remove_sync"
    assert error["message"].startswith("Field required (missing) (line ")


def test_plan_validate_valid_sample_exits_0() -> None:
    result = CliRunner().invoke(cli, ["plan", "validate", str(SAMPLE)])
    assert result.exit_code == 0
    assert "valid (5 contexts" in result.output


def test_run_cli_returns_2_for_invalid_plan(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from cutover_common.cli import run_cli

    path = write(tmp_path, _mutate("contexts", {}))
    assert run_cli(cli, ["plan", "validate", str(path)]) == 2
    assert "contexts: Dictionary should have at least 1 item" in capsys.readouterr().out


def test_plan_schema_exports_json_schema_with_gates_and_contexts() -> None:
    result = CliRunner().invoke(cli, ["plan", "schema"])
    assert result.exit_code == 0
    schema = json.loads(result.output)
    assert schema["title"] == "cutover migration plan"
    assert set(schema["required"]) >= {"system", "contexts", "gates"}
    assert "async" in schema["$defs"]["Gates"]["properties"]
    assert plan_json_schema()["$schema"].startswith("https://json-schema.org/")


def test_schema_export_validates_the_sample_with_jsonschema() -> None:
    import jsonschema

    jsonschema.validate(sample(), plan_json_schema())


def test_issues_carry_the_yaml_line(tmp_path: Path) -> None:
    text = SAMPLE.read_text().replace(
        "partitions: 6, retention_ms: 604800000}\n    events: [payment",
        "partitions: six, retention_ms: 604800000}\n    events: [payment",
    )
    path = write(tmp_path, text)
    with pytest.raises(PlanInvalid) as info:
        load_plan(path)
    (issue,) = info.value.issues
    line = next(n for n, ln in enumerate(text.splitlines(), 1) if "partitions: six" in ln)
    assert issue.path == "contexts.payment.topic.partitions"
    assert issue.message.endswith(f"(line {line})")
