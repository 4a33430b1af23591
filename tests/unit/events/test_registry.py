"""The contracts registry: one contract test class for the sample's directory (schemas
generated from its Python contracts, an older version kept as a file, an upcaster) and a
team's hand-written directory, then what a directory must hold (each bad file named in one
line)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import pytest

from events.errors import (
    ContractDirectoryInvalid,
    SchemaValidationError,
    UnknownEventTypeError,
    UpcastError,
)
from events.registry import ContractRegistry, Contracts, schema_reasons
from tests.unit.events.conftest import sample_contracts
from tests.unit.events.contracts_dir import team_contracts, write_schema

UPCASTERS = '[upcasters."article.favorited"]\n2 = "tests.unit.events.contracts_dir:rename_user"\n'
FAVORITED_V3: dict[str, Any] = {
    "type": "object",
    "required": ["article_id", "user_id"],
    "properties": {"article_id": {"type": "string"}, "user_id": {"type": "string"}},
}


class ContractsContract:
    """What every :class:`Contracts` does; subclasses give the registry and its samples."""

    event_type: ClassVar[str]
    versions: ClassVar[tuple[int, ...]]
    latest_valid: ClassVar[dict[str, Any]]
    latest_invalid: ClassVar[dict[str, Any]]
    invalid_path: ClassVar[str]
    old_payload: ClassVar[dict[str, Any]]
    upcast_payload: ClassVar[dict[str, Any]]

    @pytest.fixture
    def contracts(self, tmp_path: Path) -> Contracts:
        raise NotImplementedError

    def test_types_include_the_versioned_type(self, contracts: Contracts) -> None:
        assert self.event_type in contracts.types

    def test_versions_run_from_one_oldest_first(self, contracts: Contracts) -> None:
        assert contracts.versions(self.event_type) == self.versions

    def test_latest_is_the_highest_version(self, contracts: Contracts) -> None:
        assert contracts.latest(self.event_type) == self.versions[-1]

    def test_a_valid_payload_passes_the_latest_version(self, contracts: Contracts) -> None:
        assert contracts.validate(self.event_type, self.latest_valid) is None

    def test_an_invalid_payload_is_one_line_naming_type_version_and_path(
        self, contracts: Contracts
    ) -> None:
        with pytest.raises(SchemaValidationError) as info:
            contracts.validate(self.event_type, self.latest_invalid)
        message = str(info.value)
        assert "\n" not in message
        assert message.startswith(f"{self.event_type} v{self.versions[-1]} is invalid: ")
        assert self.invalid_path in message

    def test_an_old_payload_fits_its_own_version(self, contracts: Contracts) -> None:
        assert contracts.validate(self.event_type, self.old_payload, 1) is None

    def test_an_unknown_type_is_an_unknown_event_type(self, contracts: Contracts) -> None:
        with pytest.raises(UnknownEventTypeError):
            contracts.validate("no.such.event", {})

    def test_an_unknown_version_is_an_unknown_event_type(self, contracts: Contracts) -> None:
        with pytest.raises(UnknownEventTypeError) as info:
            contracts.validate(self.event_type, self.latest_valid, 99)
        assert info.value.version == 99

    def test_upcast_brings_version_one_to_the_latest(self, contracts: Contracts) -> None:
        upcast = contracts.upcast(self.event_type, 1, self.old_payload)
        assert dict(upcast) == self.upcast_payload
        assert contracts.validate(self.event_type, upcast) is None

    def test_upcast_of_the_latest_returns_it_unchanged(self, contracts: Contracts) -> None:
        latest = self.versions[-1]
        assert contracts.upcast(self.event_type, latest, self.latest_valid) == self.latest_valid

    def test_upcast_from_a_newer_version_is_an_upcast_error(self, contracts: Contracts) -> None:
        with pytest.raises(UpcastError):
            contracts.upcast(self.event_type, self.versions[-1] + 1, self.latest_valid)

    def test_schema_reasons_accept_a_payload_of_any_version(self, contracts: Contracts) -> None:
        assert schema_reasons(contracts, self.event_type, self.old_payload) == []

    def test_schema_reasons_name_an_unregistered_type(self, contracts: Contracts) -> None:
        reasons = schema_reasons(contracts, "article.teleported", {})
        assert reasons == [f"article.teleported: no registered schema in {contracts.source}"]


class TestSampleDirectory(ContractsContract):
    event_type = "integration.customer.created"
    versions = (1, 2)
    latest_valid: ClassVar[dict[str, Any]] = {"customer_id": "c", "name": "Ann", "email": "a@b.c"}
    latest_invalid: ClassVar[dict[str, Any]] = {"customer_id": "c", "name": "Ann", "email": 5}
    invalid_path = "/email"
    old_payload: ClassVar[dict[str, Any]] = {"customer_id": "c", "full_name": "A", "email": "a@b"}
    upcast_payload: ClassVar[dict[str, Any]] = {"customer_id": "c", "name": "A", "email": "a@b"}

    @pytest.fixture
    def contracts(self, tmp_path: Path) -> Contracts:
        return sample_contracts()


class TestDirectoryRegistry(ContractsContract):
    event_type = "article.favorited"
    versions = (1, 2, 3)
    latest_valid: ClassVar[dict[str, Any]] = {"article_id": "a-1", "user_id": "u-1"}
    latest_invalid: ClassVar[dict[str, Any]] = {"article_id": 7, "user_id": "u-1"}
    invalid_path = "/article_id"
    old_payload: ClassVar[dict[str, Any]] = {"article_id": "a-1", "user": "u-1"}
    upcast_payload: ClassVar[dict[str, Any]] = {"article_id": "a-1", "user_id": "u-1"}

    @pytest.fixture
    def contracts(self, tmp_path: Path) -> Contracts:
        directory = team_contracts(tmp_path / "contracts")
        write_schema(directory, "article.favorited.v3.json", FAVORITED_V3)
        (directory / "upcasters.toml").write_text(UPCASTERS)
        return ContractRegistry.load(directory)


# -- what a directory must hold ------------------------------------------------------------
def _problem(directory: Path) -> str:
    with pytest.raises(ContractDirectoryInvalid) as info:
        ContractRegistry.load(directory)
    assert "\n" not in str(info.value)
    return str(info.value)


def test_a_json_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    directory = team_contracts(tmp_path / "contracts")
    write_schema(directory, "article.favorited.v2.json", '{\n  "type": "object",\n  "x": }\n')
    assert _problem(directory).startswith(
        f"{directory}/article.favorited.v2.json: not valid JSON: line 3, column 8: "
    )


def test_an_invalid_schema_names_the_file_and_the_schema_path(tmp_path: Path) -> None:
    directory = team_contracts(tmp_path / "contracts")
    write_schema(directory, "article.unfavorited.v1.json", {"properties": {"a": {"type": "strin"}}})
    assert _problem(directory).startswith(
        f"{directory}/article.unfavorited.v1.json: not a valid JSON Schema at /properties/a/type: "
    )


def test_a_schema_that_is_not_an_object_is_refused(tmp_path: Path) -> None:
    directory = team_contracts(tmp_path / "contracts")
    write_schema(directory, "article.unfavorited.v1.json", "[1, 2]")
    assert "article.unfavorited.v1.json: not a JSON Schema" in _problem(directory)


def test_another_draft_is_refused(tmp_path: Path) -> None:
    directory = team_contracts(tmp_path / "contracts")
    draft7 = {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object"}
    write_schema(directory, "article.unfavorited.v1.json", draft7)
    assert "$schema must be https://json-schema.org/draft/2020-12/schema" in _problem(directory)


def test_a_remote_ref_is_refused(tmp_path: Path) -> None:
    directory = team_contracts(tmp_path / "contracts")
    remote = {"type": "object", "properties": {"a": {"$ref": "https://example.com/a.json"}}}
    write_schema(directory, "article.unfavorited.v1.json", remote)
    assert "is not local" in _problem(directory)


def test_a_misnamed_json_file_is_refused(tmp_path: Path) -> None:
    directory = team_contracts(tmp_path / "contracts")
    write_schema(directory, "favorited.json", {"type": "object"})
    assert _problem(directory).startswith(f"{directory}/favorited.json: not named <type>.v<N>.json")


def test_a_missing_version_is_refused(tmp_path: Path) -> None:
    directory = team_contracts(tmp_path / "contracts")
    write_schema(directory, "article.unfavorited.v3.json", {"type": "object"})
    assert _problem(directory) == (
        f"{directory}/article.unfavorited.v3.json: versions of article.unfavorited must run "
        "v1..v3; missing v2"
    )


def test_a_version_that_cannot_read_the_previous_one_is_refused(tmp_path: Path) -> None:
    directory = team_contracts(tmp_path / "contracts")
    write_schema(directory, "article.favorited.v3.json", FAVORITED_V3)
    message = _problem(directory)
    assert message.startswith(
        f"{directory}/article.favorited.v3.json: not backward compatible with v2: /user_id "
        "required-field-added"
    )


def test_a_breaking_version_marked_x_cutover_breaking_is_accepted(tmp_path: Path) -> None:
    directory = team_contracts(tmp_path / "contracts")
    write_schema(
        directory, "article.favorited.v3.json", {**FAVORITED_V3, "x-cutover-breaking": "ok"}
    )
    assert ContractRegistry.load(directory).latest("article.favorited") == 3


def test_an_upcaster_that_cannot_be_imported_names_upcasters_toml(tmp_path: Path) -> None:
    directory = team_contracts(tmp_path / "contracts")
    (directory / "upcasters.toml").write_text('[upcasters."article.favorited"]\n1 = "nowhere:fn"\n')
    assert _problem(directory).startswith(
        f"{directory}/upcasters.toml: cannot import upcaster nowhere:fn: "
    )


def test_an_upcaster_for_a_missing_next_version_is_refused(tmp_path: Path) -> None:
    directory = team_contracts(tmp_path / "contracts")
    (directory / "upcasters.toml").write_text(UPCASTERS)
    assert "upcaster for article.favorited v2 names no v3 schema" in _problem(directory)


def test_several_problems_give_the_first_and_a_count(tmp_path: Path) -> None:
    directory = team_contracts(tmp_path / "contracts")
    write_schema(directory, "a.v1.json", "{")
    write_schema(directory, "b.v1.json", "{")
    assert _problem(directory).endswith("(+1 more; see `cutover events check`)")


def test_a_path_that_is_not_a_directory_is_refused(tmp_path: Path) -> None:
    assert _problem(tmp_path / "nowhere") == f"{tmp_path / 'nowhere'}: not a directory of contracts"


def test_files_other_than_json_are_ignored(tmp_path: Path) -> None:
    directory = team_contracts(tmp_path / "contracts")
    (directory / "README.md").write_text("# our contracts")
    assert ContractRegistry.load(directory).types == {"article.favorited", "article.unfavorited"}


def test_validation_does_not_fill_defaults_into_the_payload(tmp_path: Path) -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer", "default": 1}}}
    registry = ContractRegistry.from_sources({"x.v1.json": json.dumps(schema)})
    payload: dict[str, Any] = {}
    registry.validate("x", payload)
    assert payload == {}


def test_a_2020_12_keyword_fastjsonschema_lacks_is_still_enforced() -> None:
    schema = {"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}]}
    registry = ContractRegistry.from_sources({"pair.v1.json": json.dumps(schema)})
    with pytest.raises(SchemaValidationError) as info:
        registry.validate("pair", ["a", "b"])  # type: ignore[arg-type]
    assert "/1: 'b' is not of type 'integer'" in str(info.value)


def test_the_siblings_of_a_ref_apply_as_in_2020_12() -> None:
    schema = {
        "$defs": {"name": {"type": "string"}},
        "type": "object",
        "properties": {"a": {"$ref": "#/$defs/name", "minLength": 2}},
    }
    registry = ContractRegistry.from_sources({"x.v1.json": json.dumps(schema)})
    with pytest.raises(SchemaValidationError, match="/a: 'x' is too short"):
        registry.validate("x", {"a": "x"})


def test_format_is_an_annotation_as_in_2020_12() -> None:
    schema = {"type": "object", "properties": {"at": {"type": "string", "format": "date-time"}}}
    registry = ContractRegistry.from_sources({"x.v1.json": json.dumps(schema)})
    assert registry.validate("x", {"at": "yesterday"}) is None
