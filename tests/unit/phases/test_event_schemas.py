"""The phase-3 gate's event_schema_compatible check with a team's contracts directory."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest

from events.registry import ContractRegistry
from phases.commands import CommandConfig, plan_validate
from phases.errors import PlanInvalid
from phases.event_schemas import Record, judge_records, plan_contracts, schema_report
from phases.gates import Verdict, schema_check
from phases.plan import Plan, load_plan, parse_plan_text, plan_json_schema
from tests.unit.events.contracts_dir import team_contracts, write_schema
from tests.unit.phases.conftest import SAMPLE

SAMPLE_CONTRACTS = Path(__file__).resolve().parents[3] / "legacy_app" / "contracts"

EVENTS = ["article.favorited", "article.unfavorited"]


def _record(kind: str, payload: object) -> Record:
    return {"type": kind}, json.dumps(payload).encode()


def _plan(tmp_path: Path, contracts: str | None = "contracts") -> Plan:
    text = SAMPLE.read_text()
    if contracts is not None:
        text += f"\ncontracts: {{dir: {contracts}}}\n"
    path = tmp_path / "plan" / "cutover-plan.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return load_plan(path)


@pytest.fixture
def registry(tmp_path: Path) -> ContractRegistry:
    return ContractRegistry.load(team_contracts(tmp_path / "contracts"))


def test_a_valid_team_event_passes(registry: ContractRegistry) -> None:
    records = [_record("article.favorited", {"article_id": "a-1", "user": "u"})]
    report = judge_records("article", EVENTS, records, registry)
    assert (report.compatible, report.reasons) == (True, ())


def test_an_event_type_the_registry_does_not_know_fails_naming_it(
    registry: ContractRegistry,
) -> None:
    records = [_record("article.shared", {"article_id": "a-1"})]
    report = judge_records("article", [], records, registry)
    assert report.compatible is False
    assert report.reasons == (f"article.shared: no registered schema in {registry.source}",)


def test_a_payload_failing_its_contract_names_type_version_and_path(
    registry: ContractRegistry,
) -> None:
    records = [_record("article.favorited", {"article_id": 5, "user": "u"})]
    report = judge_records("article", EVENTS, records, registry)
    assert report.compatible is False
    assert report.reasons[0].startswith("article.favorited v2: /article_id: ")


def test_the_plan_s_contracts_dir_is_relative_to_the_plan_file(tmp_path: Path) -> None:
    team_contracts(tmp_path / "plan" / "contracts")
    plan = _plan(tmp_path)
    assert plan.contracts_dir() == tmp_path / "plan" / "contracts"
    assert plan_contracts(plan).types == {"article.favorited", "article.unfavorited"}


def test_the_gate_judges_team_events_against_the_plan_s_contracts(tmp_path: Path) -> None:
    team_contracts(tmp_path / "plan" / "contracts")
    records = [_record("article.favorited", {"article_id": "a-1", "user": "u"})]
    check = schema_check(schema_report(_plan(tmp_path), "order", [], records), context="order")
    assert (check.name, check.verdict, check.detail) == (
        "event_schema_compatible",
        Verdict.PASS,
        "compatible",
    )


def test_an_invalid_contracts_dir_fails_the_input_check_with_one_line(tmp_path: Path) -> None:
    directory = team_contracts(tmp_path / "plan" / "contracts")
    write_schema(directory, "article.favorited.v3.json", "{ nope")
    report = schema_report(_plan(tmp_path), "order", [], [])
    check = schema_check(report, context="order")
    assert (check.verdict, check.kind) == (Verdict.FAIL, "input")
    assert check.detail == (
        f"contracts: {directory}/article.favorited.v3.json: not valid JSON: line 1, column 3: "
        "Expecting property name enclosed in double quotes"
    )


def test_without_contracts_the_check_fails_the_input_with_one_line(tmp_path: Path) -> None:
    plan = _plan(tmp_path, contracts=None)
    records = [_record("order.completed", {"order_id": "o-1", "total": "5.00", "currency": "EUR"})]
    assert plan.contracts_dir() is None
    check = schema_check(schema_report(plan, "order", [], records), context="order")
    assert (check.verdict, check.kind) == (Verdict.FAIL, "input")
    assert check.detail == (
        "contracts: the plan names no contracts directory (contracts: {dir: ...})"
    )


def test_the_plan_refuses_an_unknown_key_under_contracts() -> None:
    text = SAMPLE.read_text() + "\ncontracts: {dir: c, url: x}\n"
    with pytest.raises(PlanInvalid, match=r"contracts\.url — unknown field"):
        parse_plan_text(text)


def test_the_plan_schema_documents_contracts() -> None:
    schema = plan_json_schema()
    assert "contracts" in schema["properties"]
    assert "ContractsSpec" in schema["$defs"]


def test_plan_validate_reports_each_problem_of_the_contracts_dir(tmp_path: Path) -> None:
    directory = team_contracts(tmp_path / "plan" / "contracts")
    write_schema(directory, "article.favorited.v4.json", {"type": "object"})
    path = tmp_path / "plan" / "cutover-plan.yaml"
    _plan(tmp_path)
    out = io.StringIO()
    assert plan_validate(CommandConfig(stdout=out), path) == 2
    assert out.getvalue().splitlines() == [
        f"contracts.dir: {directory}/article.favorited.v4.json: versions of article.favorited "
        "must run v1..v4; missing v3"
    ]


def test_plan_validate_accepts_a_valid_contracts_dir(tmp_path: Path) -> None:
    directory = team_contracts(tmp_path / "plan" / "contracts")
    for event in ("order", "inventory", "payment", "shipment", "notification"):
        for schema in SAMPLE_CONTRACTS.glob(f"{event}.*.json"):  # the plan's events
            shutil.copy(schema, directory / schema.name)
    _plan(tmp_path)
    out = io.StringIO()
    assert plan_validate(CommandConfig(stdout=out), tmp_path / "plan" / "cutover-plan.yaml") == 0
