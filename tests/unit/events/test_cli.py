from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from events.cli import events
from events.envelope import Envelope
from events.errors import ContractsNotNamed, SchemaFileError
from events.operations import (
    NO_CONTRACTS_HINT,
    check_compat_refs,
    list_no_contracts,
    read_envelopes,
    validate_file,
)
from events.registry import ContractRegistry
from legacy_app.contracts import CONTRACTS
from legacy_app.contracts.domain import OrderCompleted
from phases.cli import cli
from tests.unit.cli.conftest import run
from tests.unit.events.conftest import SAMPLE_CONTRACTS

SAMPLE_DIR = ["--contracts", str(SAMPLE_CONTRACTS)]


def test_list_json_names_every_type_of_the_directory() -> None:
    result = CliRunner().invoke(events, ["list", *SAMPLE_DIR, "--json"])
    assert result.exit_code == 0, result.output
    types = {row["type"]: row for row in json.loads(result.output)["types"]}
    assert set(types) == {c.type for c in CONTRACTS}
    assert types["integration.customer.created"]["upcasters"] == ["v1->v2"]
    assert types["integration.customer.created"]["versions"] == [1, 2]


def test_list_without_a_directory_lists_nothing_with_a_hint() -> None:
    out = io.StringIO()
    assert list_no_contracts(out, as_json=True) == 0
    assert json.loads(out.getvalue()) == {"contracts": None, "types": [], "hint": NO_CONTRACTS_HINT}
    human = io.StringIO()
    list_no_contracts(human)
    assert human.getvalue() == NO_CONTRACTS_HINT + "\n"


def _write_envelopes(tmp_path: Path) -> Path:
    from decimal import Decimal

    good = Envelope.of(OrderCompleted("o-1", Decimal(5))).to_dict()
    old = Envelope.new(
        "integration.customer.created",
        {"customer_id": "c", "full_name": "Ann", "email": "a@b.c"},
        version=1,
    ).to_dict()
    bad = Envelope.new("order.completed", {"order_id": "o-2", "total": 5}).to_dict()
    unknown = Envelope.new("order.teleported", {}).to_dict()
    path = tmp_path / "events.jsonl"
    lines = [json.dumps(x) for x in (good, old, bad, unknown)] + ["{broken"]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_validate_reports_each_envelope(tmp_path: Path, contracts: ContractRegistry) -> None:
    out = io.StringIO()
    assert validate_file(_write_envelopes(tmp_path), contracts, out, as_json=True) == 2
    report = json.loads(out.getvalue())
    assert report["invalid"] == 3
    assert [r["ok"] for r in report["results"]] == [True, True, False, False, False]
    assert report["results"][1]["detail"] == "ok (upcast v1 -> v2)"
    assert "total" in report["results"][2]["detail"]
    assert "unknown event type" in report["results"][3]["detail"]


def test_validate_all_good_exits_zero(tmp_path: Path) -> None:
    from decimal import Decimal

    path = tmp_path / "one.json"
    path.write_bytes(Envelope.of(OrderCompleted("o-1", Decimal(5))).to_json())
    result = CliRunner().invoke(events, ["validate", str(path), *SAMPLE_DIR, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["invalid"] == 0
    human = CliRunner().invoke(events, ["validate", str(path), *SAMPLE_DIR])
    assert (human.exit_code, "ok" in human.output) == (0, True)


def test_validate_without_a_contracts_dir_is_one_line_and_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "one.json"
    path.write_text("{}")
    ran = run(cli, ["events", "validate", str(path)])
    assert ran.code == 2
    assert ran.err.splitlines() == [
        "error: no contracts directory — give --contracts DIR or a --plan with contracts.dir"
    ]


def test_read_envelopes_accepts_array_object_and_lines() -> None:
    assert read_envelopes('[{"a": 1}, {"b": 2}]') == [{"a": 1}, {"b": 2}]
    assert read_envelopes('{"a": 1}') == [{"a": 1}]
    assert read_envelopes('{"a": 1}\n\n{"b": 2}\n') == ['{"a": 1}', '{"b": 2}']


def test_check_compat_cli_exit_codes() -> None:
    runner = CliRunner()
    breaking = runner.invoke(
        events,
        [
            "check-compat",
            "integration.customer.created@1",
            "integration.customer.created@2",
            *SAMPLE_DIR,
        ],
    )
    assert breaking.exit_code == 4
    assert "BREAKING" in breaking.output
    same = runner.invoke(
        events, ["check-compat", "order.created@1", "order.created:v1", "--json", *SAMPLE_DIR]
    )
    assert same.exit_code == 0
    assert json.loads(same.output)["compatible"] is True


def test_check_compat_reads_schema_files(tmp_path: Path, contracts: ContractRegistry) -> None:
    old = contracts.schema("order.created", 1)
    new = json.loads(json.dumps(old))
    new["properties"]["coupon"] = {"type": "string"}
    new_path = tmp_path / "order.created.v2.json"
    new_path.write_text(json.dumps(new))
    out = io.StringIO()
    code = check_compat_refs(
        "order.created@1", str(new_path), out, contracts=contracts, as_json=True
    )
    assert code == 0
    assert json.loads(out.getvalue())["changes"][0]["kind"] == "optional-field-added"


@pytest.mark.parametrize("ref", ["nonsense", "order.created@9"])
def test_check_compat_bad_reference_is_a_toolkit_error(
    ref: str, contracts: ContractRegistry
) -> None:
    from cutover_common.errors import CutoverError

    with pytest.raises(CutoverError):
        check_compat_refs(ref, "order.created@1", io.StringIO(), contracts=contracts)


def test_check_compat_of_a_reference_needs_a_contracts_directory(tmp_path: Path) -> None:
    path = tmp_path / "any.json"
    path.write_text("{}")
    with pytest.raises(ContractsNotNamed):
        check_compat_refs(str(path), "order.created@1", io.StringIO())


def test_bad_schema_file_is_a_schema_file_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text("[1]")
    with pytest.raises(SchemaFileError) as info:
        check_compat_refs(str(path), "order.created@1", io.StringIO())
    assert info.value.path == str(path)
