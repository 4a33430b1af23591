from __future__ import annotations

import json
from typing import Any

from comparators.diff import Scope, compare, observation
from comparators.invariants import resolve_all
from comparators.rules import CompareOptions
from comparators.values import RawJson, materialise
from tests.unit.comparators.factories import LATER, record

NESTED = ("reservation", "payment", "shipment", "notifications")


def as_sql_row(rec: dict[str, Any]) -> dict[str, Any]:
    """How an SQL source delivers a row: jsonb columns as unparsed text."""
    return {k: RawJson(json.dumps(v)) if k in NESTED else v for k, v in rec.items()}


def test_raw_json_row_matches_parsed_record() -> None:
    c = observation(as_sql_row(record(1)), key_field="order_id")
    d = observation(record(1, source="event"), key_field="order_id")
    assert compare([c], [d], CompareOptions(key="order_id"), Scope(now=LATER)).count("match") == 1


def test_raw_json_difference_is_explained_on_parsed_paths() -> None:
    c = observation(as_sql_row(record(1)), key_field="order_id")
    d = observation(as_sql_row(record(1, total="1.00", source="event")), key_field="order_id")
    result = compare([c], [d], CompareOptions(key="order_id"), Scope(now=LATER))
    assert dict(result.paths) == {"payment.amount": 1, "total": 1}
    assert isinstance(result.samples[0].control, dict)
    assert result.samples[0].control["payment"]["amount"] == "23.75"  # type: ignore[index]


def test_invariants_see_parsed_json() -> None:
    c = observation(as_sql_row(record(1)), key_field="order_id")
    result = compare(
        [c],
        [],
        CompareOptions(key="order_id"),
        Scope(now=LATER),
        resolve_all(["legacy_app.invariants:payment_equals_total"]),
    )
    assert result.violation_total == 0 and result.count("missing") == 1


def test_materialise_parses_only_raw_json() -> None:
    row = {"a": RawJson('{"x": 1}'), "b": "{not json}"}
    assert materialise(row) == {"a": {"x": 1}, "b": "{not json}"}
