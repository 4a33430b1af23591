"""Contracts written in Python (events.structs): msgspec structs carrying their routing, their
JSON Schemas generated, and the generated files loading as a registry."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

import pytest
from msgspec import Meta, Struct

from events.errors import ContractDecodeError, ContractDefinitionError
from events.registry import ContractRegistry
from events.structs import Contract, contract_schema, decode, encode, schema_files


class Reader(Struct, frozen=True):
    """Who did it."""

    reader_id: Annotated[str, Meta(min_length=1)]


class ArticleFavorited(Contract, frozen=True):
    """A reader marked an
    article as a favourite."""

    type = "article.favorited"
    version = 2
    aggregate_type = "article"
    subject_field = "article_id"

    article_id: str
    by: Reader
    kind: Annotated[str, Meta(pattern="^(star|heart)$")] = "star"


FAVORITED = ArticleFavorited("a-1", Reader("r-1"))


def from_v1(data: dict[str, Any]) -> dict[str, Any]:
    """v1 had no reader: the upcaster names an anonymous one."""
    return {"by": {"reader_id": "anonymous"}, **data}


def test_routing_comes_from_the_class_variables() -> None:
    assert (FAVORITED.type, FAVORITED.version, FAVORITED.subject) == ("article.favorited", 2, "a-1")


def test_to_dict_is_the_wire_form() -> None:
    assert FAVORITED.to_dict() == {"article_id": "a-1", "by": {"reader_id": "r-1"}, "kind": "star"}


def test_encode_then_decode_gives_the_struct_back() -> None:
    assert decode(ArticleFavorited, encode(FAVORITED)) == FAVORITED
    assert decode(ArticleFavorited, FAVORITED.to_dict()) == FAVORITED


def test_decode_failure_is_one_line_naming_the_type_and_path() -> None:
    with pytest.raises(ContractDecodeError) as info:
        decode(ArticleFavorited, {"article_id": "a-1", "by": {"reader_id": ""}})
    assert str(info.value) == (
        "cannot decode article.favorited: Expected `str` of length >= 1 - at `$.by.reader_id`"
    )


def test_the_schema_inlines_nested_structs_and_names_type_and_version() -> None:
    schema = contract_schema(ArticleFavorited)
    assert schema["$id"] == "urn:cutover:schema:article.favorited:2"
    assert schema["title"] == "article.favorited v2"
    assert schema["description"] == "A reader marked an article as a favourite."
    assert schema["properties"]["by"]["properties"]["reader_id"] == {
        "type": "string",
        "minLength": 1,
    }
    assert "$defs" not in json.dumps(schema)


def test_a_field_with_a_default_is_optional() -> None:
    assert contract_schema(ArticleFavorited)["required"] == ["article_id", "by"]


def test_schema_files_name_the_current_version_only() -> None:
    assert list(schema_files([ArticleFavorited])) == ["article.favorited.v2.json"]


def test_the_generated_files_load_as_a_registry_beside_an_older_version() -> None:
    older = {"article.favorited.v1.json": json.dumps({"type": "object", "properties": {}})}
    upcasters = '[upcasters."article.favorited"]\n1 = "tests.unit.events.test_structs:from_v1"\n'

    registry = ContractRegistry.from_sources(
        {**older, **schema_files([ArticleFavorited])}, upcasters_text=upcasters
    )
    assert registry.versions("article.favorited") == (1, 2)
    assert registry.errors("article.favorited", FAVORITED.to_dict()) == []
    assert registry.errors("article.favorited", {"article_id": "a-1"}) != []


def test_the_generator_never_rewrites_an_older_version() -> None:
    with pytest.raises(ContractDefinitionError, match=r"older than article\.favorited\.v3\.json"):
        schema_files([ArticleFavorited], existing=["article.favorited.v3.json"])


def test_two_structs_of_one_type_are_refused() -> None:
    class Again(ArticleFavorited, frozen=True):
        pass

    with pytest.raises(ContractDefinitionError, match="is also ArticleFavorited"):
        schema_files([ArticleFavorited, Again])


def test_a_contract_without_its_routing_is_refused() -> None:
    class Bare(Contract, frozen=True):
        type = "bare.happened"

        id: str

    with pytest.raises(ContractDefinitionError) as info:
        contract_schema(Bare)
    assert str(info.value) == (
        "contract test_a_contract_without_its_routing_is_refused.<locals>.Bare: class "
        "variables not set: ['version', 'aggregate_type', 'subject_field']"
    )


def test_a_subject_field_that_is_no_field_is_refused() -> None:
    class Lost(Contract, frozen=True):
        type = "lost.found"
        version = 1
        aggregate_type = "lost"
        subject_field = "nope"

        id: str

    with pytest.raises(ContractDefinitionError, match="subject_field 'nope'"):
        contract_schema(Lost)


def test_a_literal_states_its_json_type() -> None:
    class Rated(Contract, frozen=True):
        type = "article.rated"
        version = 1
        aggregate_type = "article"
        subject_field = "article_id"

        article_id: str
        stars: Literal[1, 2, 3]

    prop: dict[str, Any] = contract_schema(Rated)["properties"]["stars"]
    assert prop == {"type": "integer", "enum": [1, 2, 3]}
