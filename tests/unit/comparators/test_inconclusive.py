"""Keys a side flags inconclusive (a verify run a downstream gave no answer) are left out as
``inconclusive``: counted and stated, never judged, never compared."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import pytest

from comparators.commands import run_compare
from comparators.diff import ASYNC_MODES, Scope, compare, flag, observation
from comparators.plan import CompareConfig
from comparators.result import Category
from comparators.rules import CompareOptions
from comparators.sources import CallableSource, InMemorySource, SqlSource
from tests.support.plans import load_config
from tests.unit.comparators.factories import LATER, outcome


def _flagged(i: int, value: object = True) -> object:
    return replace(outcome(i, source="verify"), extra={"inconclusive": value})


def test_a_key_flagged_inconclusive_on_the_candidate_side_is_left_out_not_judged() -> None:
    control = [observation(outcome(i).to_dict(), key_field="order_id") for i in (1, 2, 3)]
    candidate = [
        observation(outcome(1, source="verify").to_dict(), key_field="order_id"),
        observation(
            {**outcome(2, total="1.00", source="verify").to_dict(), "inconclusive": "t"},
            key_field="order_id",
        ),
    ]
    result = compare(control, candidate, CompareOptions(key="order_id"), Scope(now=LATER))
    assert dict(result.counts) == {"match": 1, "inconclusive": 1, "missing": 1}
    assert (result.settled, result.inconclusive, result.left_out) == (2, 1, 1)
    assert [s.key for s in result.samples] == ["ord-000003"]  # the inconclusive key is no sample


def test_a_flag_on_the_control_side_counts_too_and_the_column_is_never_compared() -> None:
    control = [observation({**outcome(1).to_dict(), "inconclusive": True}, key_field="order_id")]
    candidate = [
        observation(
            {**outcome(1, source="verify").to_dict(), "inconclusive": False}, key_field="order_id"
        )
    ]
    result = compare(control, candidate, CompareOptions(key="order_id"), Scope(now=LATER))
    assert dict(result.counts) == {"inconclusive": 1}
    assert "inconclusive" in CompareOptions(key="order_id").ignore


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        ("true", True),
        ("t", True),
        (1, True),
        (False, False),
        ("f", False),
        (None, False),
    ],
)
def test_the_flag_reads_booleans_from_json_sql_and_text(value: object, expected: bool) -> None:
    assert flag(value) is expected


def test_an_outcome_flagged_in_extra_is_read_by_an_in_memory_source() -> None:
    source = InMemorySource(
        [outcome(1, source="verify"), _flagged(2)], name="verify", key="order_id"
    )
    run = run_compare(
        CompareConfig(
            context="order",
            control=InMemorySource([outcome(1), outcome(2)], name="event", key="order_id"),
            candidate=source,  # type: ignore[arg-type]
            options=CompareOptions(key="order_id"),
            modes=ASYNC_MODES,
        ),
        now=LATER,
        stdout=io.StringIO(),
        as_json=True,
    )
    assert run.evidence["left_out"]["inconclusive"] == 1
    counts = {k: n for k, n in run.evidence["counts"].items() if n}
    assert counts == {"match": 1, "inconclusive": 1}


def test_the_plan_names_the_inconclusive_column_of_both_sources(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        "system: {database: {url_env: DB}}\n"
        "contexts:\n  order:\n"
        "    outcome: {key: order_id, sync_query: SELECT 1, event_callable: 'pkg.mod:fn'}\n"
        "    compare: {inconclusive_column: no_answer}\n"
    )
    config = load_config(plan, "order", "async", {"DB": "postgresql://u:p@h/db"})
    assert isinstance(config.control, SqlSource)
    assert config.control.inconclusive_column == "no_answer"
    assert isinstance(config.candidate, CallableSource)
    assert config.candidate.inconclusive_column == "no_answer"
    assert config.options.inconclusive_field == "no_answer"
    assert "no_answer" in config.options.ignore


def test_the_digest_query_selects_the_flag_beside_the_mode() -> None:
    from comparators.sources import ReadWindow

    src = SqlSource("postgresql://x", "SELECT * FROM v", name="verify", key="order_id")
    sql, params = src.query(["outcome"], ReadWindow(digest_ignore=("produced_at",)))
    assert "->>%(inconclusive_column)s AS i" in sql
    assert params["inconclusive_column"] == "inconclusive"
    assert Category.INCONCLUSIVE.value == "inconclusive"
