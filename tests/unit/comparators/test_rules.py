from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from comparators.errors import ImportTargetError, RuleError
from comparators.rules import (
    CaseInsensitive,
    CompareOptions,
    DecimalCanonical,
    Ignore,
    SortLists,
    Tolerance,
    TruncateTimestamps,
    load_normaliser,
    load_target,
)
from comparators.values import canonical_decimal, to_jsonable
from tests.unit.comparators.factories import T0, outcome_records, record

FULL = CompareOptions(
    tolerances=(Tolerance("total", Decimal("0.01")),),
    truncate=(TruncateTimestamps(("produced_at",), "second"),),
    case_insensitive=("notifications.recipient",),
    ignore=("source",),
    key="order_id",
)


class Upper:
    """A custom normaliser (strategy object) for the tests."""

    name = "upper-status"

    def __call__(self, record: dict[str, Any]) -> dict[str, Any]:
        return {**record, "status": str(record.get("status", "")).upper()}


def test_ignore_drops_paths_inside_lists() -> None:
    rec = {"a": 1, "items": [{"sku": "x", "note": "n"}, {"sku": "y", "note": "m"}]}
    assert Ignore(("items.note", "a"))(rec) == {"items": [{"sku": "x"}, {"sku": "y"}]}


def test_ignore_does_not_mutate_input() -> None:
    rec = {"a": {"b": 1, "c": 2}}
    Ignore(("a.b",))(rec)
    assert rec == {"a": {"b": 1, "c": 2}}


def test_decimal_canonical_equates_trailing_zeros_and_numbers() -> None:
    norm = DecimalCanonical(("total",))
    assert norm({"total": "12.50"}) == norm({"total": Decimal("12.5")}) == {"total": "12.5"}
    assert norm({"total": 3})["total"] == "3"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("0.00", "0"),
        ("-0", "0"),
        ("100", "100"),
        ("1E+2", "100"),
        ("0.10", "0.1"),
        ("-2.50", "-2.5"),
    ],
)
def test_canonical_decimal(value: str, text: str) -> None:
    assert canonical_decimal(Decimal(value)) == text


def test_truncate_timestamps_to_second() -> None:
    norm = TruncateTimestamps(("at",), "second")
    assert norm({"at": "2026-01-01T00:00:01.999+00:00"}) == {"at": "2026-01-01T00:00:01+00:00"}


def test_truncate_rejects_unknown_unit() -> None:
    with pytest.raises(RuleError):
        TruncateTimestamps(("at",), "fortnight")


def test_case_insensitive_folds_strings_in_lists() -> None:
    rec = {"notifications": [{"recipient": "Ann@Example.COM"}]}
    assert CaseInsensitive(("notifications.recipient",))(rec) == {
        "notifications": [{"recipient": "ann@example.com"}]
    }


def test_sort_lists_makes_order_irrelevant() -> None:
    norm = SortLists(("lines",))
    a = {"lines": [{"sku": "B", "qty": 1}, {"sku": "A", "qty": 2}]}
    b = {"lines": [{"sku": "A", "qty": 2}, {"sku": "B", "qty": 1}]}
    assert norm(a) == norm(b)


def test_tolerance_quantise_rounds_to_step() -> None:
    tol = Tolerance("total", Decimal("0.05"))
    assert tol.quantise({"total": "10.02"}) == {"total": "10"}
    assert tol.quantise({"total": "10.03"}) == {"total": "10.05"}


def test_tolerance_rejects_negative() -> None:
    with pytest.raises(RuleError):
        Tolerance("total", Decimal("-1"))


def test_empty_path_is_rejected() -> None:
    with pytest.raises(RuleError):
        Ignore(("a..b",))({"a": 1})


def test_to_jsonable_converts_decimal_datetime_tuple() -> None:
    assert to_jsonable({"t": T0, "d": Decimal("1.50"), "l": (1, 2)}) == {
        "d": "1.5",
        "l": [1, 2],
        "t": "2026-01-01T00:00:00+00:00",
    }


def test_custom_normaliser_runs_in_pipeline() -> None:
    opts = CompareOptions(normalisers=(Upper(),), key="order_id")
    assert opts.normalise(record(1))["status"] == "COMPLETED"


def test_load_normaliser_from_module_attribute() -> None:
    norm = load_normaliser("tests.unit.comparators.test_rules:Upper")
    assert norm.name == "upper-status"


def test_load_target_reports_bad_reference() -> None:
    with pytest.raises(ImportTargetError):
        load_target("no_such_module_xyz:thing")
    with pytest.raises(ImportTargetError):
        load_target("comparators.rules")


def test_default_options_ignore_produced_at_and_source() -> None:
    norm = CompareOptions(key="order_id").normalise(record(1))
    assert "produced_at" not in norm and "source" not in norm


def test_settle_is_part_of_options() -> None:
    assert CompareOptions(settle=timedelta(seconds=9), key="order_id").settle.total_seconds() == 9


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(outcome_records())
def test_normalise_is_idempotent(rec: dict[str, Any]) -> None:
    once = FULL.normalise(rec)
    assert FULL.normalise(once) == once


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(outcome_records())
def test_each_normaliser_is_idempotent(rec: dict[str, Any]) -> None:
    for step in FULL.pipeline:
        once = step(to_jsonable(rec))
        assert step(once) == once, step.name


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(outcome_records())
def test_compiled_pass_equals_stepwise_pipeline(rec: dict[str, Any]) -> None:
    assert FULL.normalise(rec) == FULL.normalise_stepwise(rec)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.decimals(-1000, 1000, places=3), st.decimals(-1000, 1000, places=3))
def test_quantised_equal_implies_within_tolerance(a: Decimal, b: Decimal) -> None:
    tol = Tolerance("v", Decimal("0.01"))
    if tol.quantise({"v": str(a)}) == tol.quantise({"v": str(b)}):
        assert tol.within(a, b)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(outcome_records(), outcome_records())
def test_equal_raw_digest_implies_equal_normalised(a: dict[str, Any], b: dict[str, Any]) -> None:
    b = {**b, "order_id": a["order_id"]}
    if FULL.raw_digest(a) == FULL.raw_digest(b):
        assert FULL.normalise(a) == FULL.normalise(b)
    assert FULL.raw_digest(a) == FULL.raw_digest({**a, "source": "other"})


def test_raw_digest_of_sql_row_equals_digest_of_its_dict_form() -> None:
    from comparators.fingerprint import digest

    row = {"order_id": "o", "total": Decimal("12.50"), "produced_at": T0}
    assert digest(row) == digest({"order_id": "o", "total": "12.5", "produced_at": T0.isoformat()})


def test_the_key_has_no_default_in_options_or_sources() -> None:
    from comparators.sources import CallableSource, InMemorySource, SqlSource

    with pytest.raises(TypeError, match="key"):
        CompareOptions()  # type: ignore[call-arg]
    for make in (
        lambda: InMemorySource([]),
        lambda: CallableSource("m:f"),
        lambda: SqlSource("x", "q"),
    ):
        with pytest.raises(TypeError, match="key"):
            make()  # type: ignore[call-arg]
