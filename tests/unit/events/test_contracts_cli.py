"""``cutover events list|check|register --contracts DIR``, through the whole binary."""

from __future__ import annotations

import json
from pathlib import Path

from events.registry import ContractRegistry
from phases.cli import cli
from tests.unit.cli.conftest import Ran, run
from tests.unit.events.contracts_dir import FAVORITED_V2, team_contracts, write_schema
from tests.unit.phases.conftest import SAMPLE

BREAKING = {
    "type": "object",
    "required": ["article_id", "user_id"],
    "properties": {"article_id": {"type": "string"}, "user_id": {"type": "string"}},
}


def _events(*args: str | Path) -> Ran:
    return run(cli, ["events", *(str(a) for a in args)])


def test_list_json_names_each_type_with_versions(tmp_path: Path) -> None:
    directory = team_contracts(tmp_path / "contracts")
    ran = _events("list", "--contracts", directory, "--json")
    doc = json.loads(ran.out)
    assert ran.code == 0
    assert [(t["type"], t["versions"], t["latest"]) for t in doc["types"]] == [
        ("article.favorited", [1, 2], 2),
        ("article.unfavorited", [1], 1),
    ]


def test_list_takes_the_contracts_dir_from_the_plan(tmp_path: Path) -> None:
    team_contracts(tmp_path / "contracts")
    plan = tmp_path / "plan.yaml"
    plan.write_text(SAMPLE.read_text() + "\ncontracts: {dir: contracts}\n")
    ran = _events("list", "--plan", plan, "--json")
    assert ran.code == 0, ran.err
    assert json.loads(ran.out)["contracts"] == str(tmp_path / "contracts")


def test_list_without_contracts_lists_nothing_with_a_hint() -> None:
    ran = _events("list", "--json")
    assert ran.code == 0
    assert json.loads(ran.out) == {
        "contracts": None,
        "types": [],
        "hint": "no contracts directory: give --contracts DIR or a --plan with contracts.dir",
    }


def test_check_of_a_valid_directory_exits_0(tmp_path: Path) -> None:
    directory = team_contracts(tmp_path / "contracts")
    ran = _events("check", "--contracts", directory)
    assert (ran.code, ran.out) == (0, f"{directory}: 2 types, 3 schemas, all valid\n")


def test_check_prints_one_file_reason_line_per_problem_and_exits_2(tmp_path: Path) -> None:
    directory = team_contracts(tmp_path / "contracts")
    write_schema(directory, "article.unfavorited.v1.json", "{")
    write_schema(directory, "shared.json", {"type": "object"})
    ran = _events("check", "--contracts", directory)
    assert ran.code == 2
    assert ran.out.splitlines() == [
        f"{directory}/article.unfavorited.v1.json: not valid JSON: line 1, column 2: "
        "Expecting property name enclosed in double quotes",
        f"{directory}/shared.json: not named <type>.v<N>.json (e.g. article.favorited.v1.json)",
    ]


def test_check_json_lists_the_problems(tmp_path: Path) -> None:
    directory = team_contracts(tmp_path / "contracts")
    write_schema(directory, "article.favorited.v3.json", BREAKING)
    doc = json.loads(_events("check", "--contracts", directory, "--json").out)
    assert (doc["valid"], [p["kind"] for p in doc["problems"]]) == (False, ["breaking"])


def test_check_without_a_contracts_dir_is_one_line_and_exit_2(tmp_path: Path) -> None:
    ran = _events("check")
    assert ran.code == 2
    assert ran.err.splitlines() == [
        "error: no contracts directory — give --contracts DIR or a --plan with contracts.dir"
    ]


def test_register_adds_the_first_version_to_a_new_directory(tmp_path: Path) -> None:
    source = write_schema(tmp_path, "article.shared.json", {"type": "object"})
    directory = tmp_path / "contracts"
    ran = _events("register", source, "--contracts", directory)
    assert ran.code == 0, ran.err
    assert ran.out == f"registered article.shared v1 as {directory}/article.shared.v1.json\n"
    assert (directory / "article.shared.v1.json").read_text() == source.read_text()


def test_register_adds_a_compatible_schema_as_the_next_version(tmp_path: Path) -> None:
    directory = team_contracts(tmp_path / "contracts")
    newer = {**FAVORITED_V2, "properties": {**FAVORITED_V2["properties"], "note": {}}}
    source = write_schema(tmp_path, "article.favorited.json", newer)
    ran = _events("register", source, "--contracts", directory, "--json")
    doc = json.loads(ran.out)
    assert (ran.code, doc["version"], doc["breaking"]) == (0, 3, False)
    assert [c["kind"] for c in doc["changes"]] == ["optional-field-added"]
    assert ContractRegistry.load(directory).latest("article.favorited") == 3


def test_register_refuses_a_breaking_schema_with_the_conflict_code(tmp_path: Path) -> None:
    directory = team_contracts(tmp_path / "contracts")
    source = write_schema(tmp_path, "article.favorited.json", BREAKING)
    ran = _events("register", source, "--contracts", directory)
    assert ran.code == 10
    assert len(ran.err.splitlines()) == 1
    assert ran.err.startswith(
        f"error: {directory}/article.favorited.v3.json: not backward compatible with v2: "
        "/user_id required-field-added"
    )
    assert not (directory / "article.favorited.v3.json").exists()


def test_register_allow_breaking_marks_the_version_and_keeps_the_directory_valid(
    tmp_path: Path,
) -> None:
    directory = team_contracts(tmp_path / "contracts")
    source = write_schema(tmp_path, "article.favorited.json", BREAKING)
    ran = _events("register", source, "--contracts", directory, "--allow-breaking")
    assert ran.code == 0, ran.err
    written = json.loads((directory / "article.favorited.v3.json").read_text())
    assert written["x-cutover-breaking"] == "registered with --allow-breaking"
    assert ContractRegistry.load(directory).latest("article.favorited") == 3


def test_register_dry_run_writes_nothing(tmp_path: Path) -> None:
    directory = team_contracts(tmp_path / "contracts")
    source = write_schema(tmp_path, "article.unfavorited.json", {"type": "object"})
    ran = _events("register", source, "--contracts", directory, "--dry-run", "--json")
    assert (ran.code, json.loads(ran.out)["dry_run"]) == (0, True)
    assert not (directory / "article.unfavorited.v2.json").exists()


def test_register_refuses_a_file_named_for_another_version(tmp_path: Path) -> None:
    directory = team_contracts(tmp_path / "contracts")
    source = write_schema(tmp_path, "article.unfavorited.v5.json", {"type": "object"})
    ran = _events("register", source, "--contracts", directory)
    assert ran.code == 2
    assert "is v5 but the next version of article.unfavorited is v2" in ran.err


def test_register_refuses_an_invalid_schema_naming_the_file(tmp_path: Path) -> None:
    source = write_schema(tmp_path, "article.shared.json", {"type": 5})
    ran = _events("register", source, "--contracts", tmp_path / "contracts")
    assert ran.code == 2
    assert ran.err.startswith(
        f"error: cannot use schema {source}: not a valid JSON Schema at /type"
    )
