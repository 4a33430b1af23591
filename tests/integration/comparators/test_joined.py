"""Same database, one join (comparators.joined) against the real Postgres: the same result
as the Python path, keys decided in SQL never fetched, bad input a clear error."""

from __future__ import annotations

from dataclasses import replace

import pytest

from comparators.diff import Scope, compare
from comparators.invariants import SqlInvariant
from comparators.joined import joined_compare
from comparators.result import ComparisonResult, merge2
from comparators.rules import CompareOptions
from comparators.sources import ReadWindow, SqlSource
from rehearsal.stack.endpoints import Endpoints
from tests.integration.comparators.test_sql_compare import (
    SAMPLE_OPTIONS,
    N,
    insert,
    rounding_rows,
)
from tests.unit.comparators.factories import LATER

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
