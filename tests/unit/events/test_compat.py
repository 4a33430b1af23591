from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from events.compat import check_compat
from tests.unit.events.conftest import sample_contracts

BASE: dict[str, Any] = {
    "type": "object",
    "required": ["id", "status"],
    "properties": {
        "id": {"type": "string"},
        "status": {"type": "string", "enum": ["new", "paid", "shipped"]},
        "qty": {"type": "integer", "minimum": 1},
        "lines": {
            "type": "array",
            "items": {"type": "object", "properties": {"sku": {"type": "string"}}},
        },
    },
}


def evolve(**changes: Any) -> dict[str, Any]:
    import copy

    new = copy.deepcopy(BASE)
    for path, value in changes.items():
        *parents, leaf = path.split("__")
        node = new
        for p in parents:
            node = node[p]
        if value is None:
            del node[leaf]
        else:
            node[leaf] = value
    return new


def kinds(
    old: dict[str, Any], new: dict[str, Any], mode: Any = "full"
) -> list[tuple[str, str, bool]]:
    report = check_compat(old, new, mode=mode)
    return [(c.path, c.kind, c.breaking(mode)) for c in report.changes]


def test_same_schema_is_compatible_with_no_changes() -> None:
    report = check_compat(BASE, BASE)
    assert report.compatible and report.changes == ()


def test_removing_a_required_field_is_breaking() -> None:
    new = evolve(required=["id"], properties__status=None)
    assert kinds(BASE, new) == [("/status", "required-field-removed", True)]


def test_making_a_required_field_optional_breaks_old_consumers() -> None:
    report = check_compat(BASE, evolve(required=["id"]))
    (change,) = report.changes
    assert (change.kind, change.breaks_forward, change.breaks_backward) == (
        "required-field-made-optional",
        True,
        False,
    )


def test_changing_a_type_is_breaking() -> None:
    new = evolve(properties__id={"type": "integer"})
    assert kinds(BASE, new) == [("/id", "type-changed", True)]


def test_integer_to_number_breaks_only_old_consumers() -> None:
    report = check_compat(BASE, evolve(properties__qty={"type": "number", "minimum": 1}))
    (change,) = report.changes
    assert (change.breaks_forward, change.breaks_backward) == (True, False)
    assert check_compat(
        BASE, evolve(properties__qty={"type": "number", "minimum": 1}), mode="backward"
    ).compatible


def test_narrowing_an_enum_is_breaking() -> None:
    new = evolve(properties__status={"type": "string", "enum": ["new", "paid"]})
    assert kinds(BASE, new) == [("/status", "enum-narrowed", True)]
    assert "shipped" in check_compat(BASE, new).changes[0].detail


def test_widening_an_enum_breaks_old_consumers_only() -> None:
    new = evolve(properties__status={"type": "string", "enum": ["new", "paid", "shipped", "lost"]})
    assert kinds(BASE, new, "backward") == [("/status", "enum-widened", False)]
    assert kinds(BASE, new, "forward") == [("/status", "enum-widened", True)]


def test_adding_an_optional_field_is_fine() -> None:
    new = evolve(properties__note={"type": "string"})
    report = check_compat(BASE, new)
    assert report.compatible
    assert [(c.path, c.kind) for c in report.changes] == [("/note", "optional-field-added")]


def test_adding_an_optional_field_to_a_closed_object_is_breaking() -> None:
    old = evolve(additionalProperties=False)
    new = evolve(additionalProperties=False, properties__note={"type": "string"})
    assert kinds(old, new) == [("/note", "optional-field-added", True)]


def test_adding_a_required_field_breaks_old_data() -> None:
    new = evolve(required=["id", "status", "currency"], properties__currency={"type": "string"})
    report = check_compat(BASE, new)
    assert [(c.kind, c.breaks_backward, c.breaks_forward) for c in report.changes] == [
        ("required-field-added", True, False)
    ]
    assert check_compat(BASE, new, mode="forward").compatible
    assert not check_compat(BASE, new, mode="backward").compatible


def test_tightening_a_bound_breaks_old_data() -> None:
    new = evolve(properties__qty={"type": "integer", "minimum": 2})
    assert kinds(BASE, new, "backward") == [("/qty", "bound-tightened", True)]
    loose = evolve(properties__qty={"type": "integer"})
    assert kinds(BASE, loose, "backward") == [("/qty", "bound-loosened", False)]


def test_nested_array_items_are_compared() -> None:
    new = evolve()
    new["properties"]["lines"]["items"] = {
        "type": "object",
        "properties": {"sku": {"type": "integer"}},
    }
    assert kinds(BASE, new) == [("/lines/items/sku", "type-changed", True)]


def test_sample_customer_v2_breaks_v1_which_is_why_it_has_an_upcaster() -> None:
    contracts = sample_contracts()
    report = check_compat(
        contracts.schema("integration.customer.created", 1),
        contracts.schema("integration.customer.created", 2),
    )
    assert {c.kind for c in report.breaking_changes} == {
        "required-field-removed",
        "required-field-added",
    }
    assert report.to_dict()["compatible"] is False


@pytest.mark.parametrize("event_type", sorted(sample_contracts().types))
def test_every_sample_schema_is_compatible_with_itself(event_type: str) -> None:
    contracts = sample_contracts()
    schema = contracts.schema(event_type, contracts.latest(event_type))
    assert check_compat(schema, schema).changes == ()


_leaf = st.fixed_dictionaries(
    {"type": st.sampled_from(["string", "integer", "boolean"])},
    optional={
        "enum": st.lists(st.integers(0, 5), min_size=1, max_size=3),
        "minimum": st.integers(0, 9),
    },
)
_schemas = st.builds(
    lambda props, req: {
        "type": "object",
        "properties": props,
        "required": sorted(set(req) & set(props)),
    },
    st.dictionaries(st.sampled_from("abcdef"), _leaf, max_size=5),
    st.lists(st.sampled_from("abcdef"), max_size=4),
)


@given(_schemas)
def test_any_schema_is_compatible_with_itself(schema: dict[str, Any]) -> None:
    assert check_compat(schema, schema).changes == ()


@given(_schemas, _schemas)
def test_swapping_sides_swaps_backward_and_forward(
    old: dict[str, Any], new: dict[str, Any]
) -> None:
    there = {(c.path, c.breaks_backward, c.breaks_forward) for c in check_compat(old, new).changes}
    back = {(c.path, c.breaks_forward, c.breaks_backward) for c in check_compat(new, old).changes}
    assert {(p, b, f) for p, b, f in there if b or f} == {(p, b, f) for p, b, f in back if b or f}
