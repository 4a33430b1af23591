"""Same database, one join (comparators.joined) against the real Postgres: the same result
as the Python path, keys decided in SQL never fetched, bad input a clear error."""

from __future__ import annotations

import io
import uuid
from dataclasses import replace
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from comparators import commands
from comparators.diff import Scope, compare
from comparators.errors import RuleError
from comparators.invariants import SqlInvariant
from comparators.joined import joined_compare
from comparators.plan import CompareConfig
from comparators.result import ComparisonResult, merge2
from comparators.rules import CompareOptions
from comparators.sources import ReadWindow, SqlSource
from comparators.verdict import VerdictPolicy
from rehearsal.stack.endpoints import Endpoints
from tests.integration.comparators.test_sql_compare import (
    SAMPLE_OPTIONS,
    N,
    insert,
    rounding_rows,
)
from tests.unit.comparators.factories import LATER, T0, record

pytestmark = pytest.mark.integration


@pytest.fixture
def dsn(endpoints: Endpoints, fresh_database: str) -> str:
    return endpoints.dsn(fresh_database)


def sources(dsn: str, pushdown: bool = True) -> tuple[SqlSource, SqlSource]:
    control = SqlSource(dsn, "SELECT * FROM sync_outcomes", name="sync", key="order_id")
    candidate = SqlSource(dsn, "SELECT * FROM event_outcomes", name="event", key="order_id")
    return replace(control, pushdown=pushdown), replace(candidate, pushdown=pushdown)


def python_path(dsn: str, options: CompareOptions, scope: Scope) -> ComparisonResult:
    control, candidate = sources(dsn, pushdown=False)
    window = ReadWindow()
    return compare(control.observations(window), candidate.observations(window), options, scope)


def joined_path(
    dsn: str, options: CompareOptions, scope: Scope, invariants: tuple[SqlInvariant, ...] = ()
) -> tuple[ComparisonResult, int]:
    control, candidate = sources(dsn)
    run = joined_compare(
        control, candidate, ReadWindow(), options=options, scope=scope, invariants=invariants
    )
    found = compare_keys(run.keys, options)
    return merge2(found, run.decided), run.rows.full_rows


def compare_keys(keys: object, options: CompareOptions) -> ComparisonResult:
    from comparators.diff import summarise

    return summarise(keys, options)  # type: ignore[arg-type]


@pytest.fixture
def tables(dsn: str) -> str:
    control, candidate = rounding_rows()
    candidate[10]["status"] = "CANCELLED"  # divergent
    del candidate[20]  # missing
    insert(dsn, "sync_outcomes", control)
    insert(dsn, "event_outcomes", candidate)
    return dsn


def test_joined_run_gives_the_python_paths_categories_paths_samples_and_series(
    tables: str,
) -> None:
    scope = Scope(now=LATER)
    expected = python_path(tables, SAMPLE_OPTIONS, scope)
    got, fetched = joined_path(tables, SAMPLE_OPTIONS, scope)
    assert (
        dict(got.counts)
        == dict(expected.counts)
        == {
            "divergent": 2,
            "match": N - 3,
            "missing": 1,
        }
    )
    assert got.paths == expected.paths
    assert got.samples == expected.samples
    assert got.timeline == expected.timeline
    assert got.lag_histogram == expected.lag_histogram
    assert fetched == 5  # two divergent keys (both sides) and one missing (control only)


def equal_rows(n: int = 500) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    control, candidate = [], []
    for i in range(1, n + 1):
        at = T0 + timedelta(milliseconds=10 * i)
        control.append(record(i, at=at))
        candidate.append(record(i, at=at + timedelta(milliseconds=300), source="event"))
    return control, candidate


def gate_config(dsn: str, *invariants: SqlInvariant) -> CompareConfig:
    control, candidate = sources(dsn)
    return CompareConfig(
        "order",
        control,
        candidate,
        SAMPLE_OPTIONS,
        sql_invariants=invariants,
        policy=VerdictPolicy(min_settled_keys=1),
    )


NON_NEGATIVE = SqlInvariant("non_negative_total", "total >= 0")


def test_gate_with_sql_invariants_reads_no_full_row_when_nothing_differs(dsn: str) -> None:
    control, candidate = equal_rows()
    insert(dsn, "sync_outcomes", control)
    insert(dsn, "event_outcomes", candidate)
    run = commands.run_compare(gate_config(dsn, NON_NEGATIVE), now=LATER, stdout=io.StringIO())
    assert dict(run.result.counts) == {"match": 500}
    assert run.result.violations == ()
    assert run.evidence["comparison"]["path"] == "joined"
    assert run.evidence["comparison"]["full_rows_fetched"] == 0
    assert run.evidence["comparison"]["keys_returned"] == 0
    assert run.evidence["comparison"]["workers"] == 2
    # no index on order_id: neither side is proven unique, both are grouped by key
    assert run.evidence["comparison"]["key_unique"] == {"control": False, "candidate": False}
    assert run.evidence["comparison"]["compared_by"] == "digest"


def test_sql_invariant_violation_is_counted_per_side_with_its_key(dsn: str) -> None:
    control, candidate = equal_rows()
    candidate[6]["total"] = "-1.00"
    insert(dsn, "sync_outcomes", control)
    insert(dsn, "event_outcomes", candidate)
    run = commands.run_compare(gate_config(dsn, NON_NEGATIVE), now=LATER, stdout=io.StringIO())
    assert dict(run.result.violations) == {"non_negative_total@candidate": 1}
    (violation,) = run.result.violation_samples
    assert (violation.key, violation.side) == ("ord-000007", "candidate")
    assert "total >= 0" in violation.reason
    assert dict(run.result.counts) == {"divergent": 1, "match": 499}


def test_duplicate_key_on_one_side_is_duplicate_on_both_paths(dsn: str) -> None:
    control, candidate = equal_rows(50)
    insert(dsn, "sync_outcomes", control)
    insert(dsn, "event_outcomes", [*candidate, candidate[3]])
    scope = Scope(now=LATER)
    got, _ = joined_path(dsn, SAMPLE_OPTIONS, scope)
    assert dict(got.counts) == dict(python_path(dsn, SAMPLE_OPTIONS, scope).counts)
    assert dict(got.counts) == {"duplicate": 1, "match": 49}
    (sample,) = got.samples
    assert (sample.key, sample.candidate_count) == ("ord-000004", 2)


def test_null_key_fails_the_run_with_one_line_never_a_match(dsn: str) -> None:
    control, candidate = equal_rows(20)
    insert(dsn, "sync_outcomes", control)
    insert(dsn, "event_outcomes", candidate)
    with psycopg.connect(dsn) as conn:
        conn.execute("ALTER TABLE sync_outcomes ALTER COLUMN order_id DROP NOT NULL")
        conn.execute("UPDATE sync_outcomes SET order_id = NULL WHERE order_id = 'ord-000002'")
    run = commands.run_compare(gate_config(dsn), now=LATER, stdout=io.StringIO())
    assert run.verdict.status == "fail"
    assert run.error is not None
    assert "NULL key (1 on the control side)" in run.error


def test_rule_naming_a_missing_column_is_a_rule_error_before_any_comparison(dsn: str) -> None:
    control, candidate = equal_rows(20)
    insert(dsn, "sync_outcomes", control)
    insert(dsn, "event_outcomes", candidate)
    config = replace(gate_config(dsn), options=replace(SAMPLE_OPTIONS, decimals=("totl",)))
    with pytest.raises(RuleError, match="no outcome query returns a column 'totl'"):
        commands.run_compare(config, now=LATER, stdout=io.StringIO())


def test_sources_on_two_databases_compare_by_ranges_with_the_python_result(
    dsn: str, endpoints: Endpoints
) -> None:
    from rehearsal.stack.pgadmin import create_database, drop_database

    control, candidate = equal_rows(300)
    candidate[5]["status"] = "CANCELLED"
    insert(dsn, "sync_outcomes", control)
    other = f"t_{uuid.uuid4().hex[:12]}"
    create_database(endpoints, other)
    try:
        other_dsn = endpoints.dsn(other)
        insert(other_dsn, "event_outcomes", candidate)
        config = gate_config(dsn)
        config = replace(config, candidate=replace(config.candidate, conninfo=other_dsn))
        run = commands.run_compare(config, now=LATER, stdout=io.StringIO())
        streamed = commands.run_compare(
            replace(config, control=replace(config.control, pushdown=False)),
            now=LATER,
            stdout=io.StringIO(),
        )
    finally:
        drop_database(endpoints, other)
    assert run.evidence["comparison"]["path"] == "ranges"
    assert streamed.evidence["comparison"]["path"] == "streamed"
    assert (
        dict(run.result.counts)
        == dict(streamed.result.counts)
        == {
            "divergent": 1,
            "match": 299,
        }
    )
    assert run.result.samples == streamed.result.samples
