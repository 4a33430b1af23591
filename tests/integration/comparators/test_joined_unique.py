"""The faster same-database join against the real Postgres: the key proven unique by the
planner (comparators.unique), the flat and grouped sides, binary image vs digest, the keys
split over worker connections, and errors in a worker. Every run is checked against the
Python path (rows streamed into the engine)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from structlog.testing import capture_logs

from comparators.diff import Scope, compare, summarise
from comparators.errors import SourceError
from comparators.joined import joined_compare
from comparators.result import ComparisonResult, merge2
from comparators.rules import CompareOptions
from comparators.sources import ReadWindow, SqlSource
from comparators.unique import key_proven_unique
from rehearsal.stack.endpoints import Endpoints
from tests.integration.comparators.test_joined import equal_rows
from tests.integration.comparators.test_sql_compare import SAMPLE_OPTIONS, insert
from tests.unit.comparators.factories import LATER, T0

pytestmark = pytest.mark.integration

SCOPE = Scope(now=LATER)
OPTIONS = CompareOptions(key="order_id")
"""Only top-level fields ignored (produced_at, source): the binary image may apply."""


@pytest.fixture
def dsn(endpoints: Endpoints, fresh_database: str) -> str:
    return endpoints.dsn(fresh_database)


def execute(dsn: str, *statements: str) -> None:
    with psycopg.connect(dsn) as conn:
        for sql in statements:
            conn.execute(sql)  # test DDL, no user input


def source(dsn: str, sql: str, name: str, pushdown: bool = True) -> SqlSource:
    return SqlSource(dsn, sql, name=name, key="order_id", pushdown=pushdown)


def proven(dsn: str, sql: str) -> bool:
    src = source(dsn, sql, "q")
    with psycopg.connect(dsn) as conn:
        return key_proven_unique(conn, src, src.describe(conn))


def python_path(
    dsn: str, queries: tuple[str, str], options: CompareOptions = OPTIONS
) -> ComparisonResult:
    control = source(dsn, queries[0], "sync", pushdown=False)
    candidate = source(dsn, queries[1], "event", pushdown=False)
    window = ReadWindow()
    return compare(control.observations(window), candidate.observations(window), options, SCOPE)


def joined_path(
    dsn: str, queries: tuple[str, str], options: CompareOptions = OPTIONS, workers: int = 2
) -> tuple[ComparisonResult, dict[str, Any]]:
    """The joined run's result, and how it compared (the ``compare.joined`` log line, with the
    number of keys SQL left undecided)."""
    control, candidate = source(dsn, queries[0], "sync"), source(dsn, queries[1], "event")
    with capture_logs() as logs:
        run = joined_compare(
            control, candidate, ReadWindow(), options=options, scope=SCOPE, workers=workers
        )
        found = summarise(run.keys, options)
    (how,) = [e for e in logs if e["event"] == "compare.joined" and "by" in e]
    return merge2(found, run.decided), {**how, "keys_returned": run.rows.key_rows}


def assert_same(got: ComparisonResult, expected: ComparisonResult) -> None:
    assert dict(got.counts) == dict(expected.counts)
    assert got.paths == expected.paths
    assert got.samples == expected.samples
    assert got.timeline == expected.timeline
    assert got.lag_histogram == expected.lag_histogram


TABLES = ("SELECT * FROM sync_outcomes", "SELECT * FROM event_outcomes")


# -- key_proven_unique --------------------------------------------------------------------


@pytest.fixture
def shapes(dsn: str) -> str:
    control, candidate = equal_rows(3)
    insert(dsn, "pk", control)
    insert(dsn, "uq", control)
    insert(dsn, "plain", control)
    insert(dsn, "lines", candidate)
    execute(
        dsn,
        "ALTER TABLE pk ADD PRIMARY KEY (order_id)",
        "ALTER TABLE uq ADD CONSTRAINT uq_key UNIQUE (order_id)",
        "ALTER TABLE lines ADD PRIMARY KEY (order_id)",
        "CREATE TABLE docs (outcome jsonb)",
        "INSERT INTO docs SELECT to_jsonb(pk) FROM pk",
    )
    return dsn


@pytest.mark.parametrize(
    ("sql", "unique"),
    [
        ("SELECT * FROM pk", True),
        ("SELECT * FROM uq", True),
        ("SELECT * FROM plain", False),
        (
            "SELECT order_id, max(total) AS total, max(produced_at) AS produced_at "
            "FROM plain GROUP BY order_id",
            True,
        ),
        (
            "SELECT pk.order_id, pk.total, lines.status, pk.produced_at "
            "FROM pk JOIN lines ON lines.correlation_id = pk.correlation_id",
            False,
        ),
        ("SELECT outcome FROM docs", False),
        ("SELECT * FROM pk WHERE status = 'completed'", True),
    ],
    ids=["primary-key", "unique", "no-index", "group-by-key", "join", "json-outcome", "where"],
)
def test_key_proven_unique_only_when_the_planner_proves_it(
    shapes: str, sql: str, unique: bool
) -> None:
    assert proven(shapes, sql) is unique


# -- flat sides --------------------------------------------------------------------------


@pytest.mark.parametrize("workers", [1, 2])
def test_null_key_on_a_unique_side_fails_with_one_line_never_a_match(
    dsn: str, workers: int
) -> None:
    control, candidate = equal_rows(20)
    insert(dsn, "sync_outcomes", control)
    insert(dsn, "event_outcomes", candidate)
    execute(
        dsn,
        "ALTER TABLE sync_outcomes ADD CONSTRAINT sync_key UNIQUE (order_id)",
        "ALTER TABLE event_outcomes ADD CONSTRAINT event_key UNIQUE (order_id)",
        "ALTER TABLE sync_outcomes ALTER COLUMN order_id DROP NOT NULL",
        "UPDATE sync_outcomes SET order_id = NULL WHERE order_id = 'ord-000002'",
    )
    assert proven(dsn, TABLES[0]) and proven(dsn, TABLES[1])
    control_src, candidate_src = source(dsn, TABLES[0], "sync"), source(dsn, TABLES[1], "event")
    run = joined_compare(
        control_src, candidate_src, ReadWindow(), options=OPTIONS, scope=SCOPE, workers=workers
    )
    with pytest.raises(SourceError) as caught:
        list(run.keys)
    message = str(caught.value)
    assert "rows with a NULL key (1 on the control side): a key must not be NULL" in message
    assert "\n" not in message


def test_unique_control_and_grouped_candidate_count_a_duplicate_as_python_does(
    dsn: str,
) -> None:
    control, candidate = equal_rows(50)
    candidate[10]["status"] = "CANCELLED"
    insert(dsn, "sync_outcomes", control)
    insert(dsn, "event_outcomes", [*candidate, candidate[3]])
    execute(dsn, "ALTER TABLE sync_outcomes ADD PRIMARY KEY (order_id)")
    got, how = joined_path(dsn, TABLES, SAMPLE_OPTIONS)
    assert (how["unique_control"], how["unique_candidate"], how["by"]) == (True, False, "digest")
    assert_same(got, python_path(dsn, TABLES, SAMPLE_OPTIONS))
    assert dict(got.counts) == {"divergent": 1, "duplicate": 1, "match": 48}
    duplicate = next(s for s in got.samples if s.category == "duplicate")
    assert (duplicate.key, duplicate.control_count, duplicate.candidate_count) == (
        "ord-000004",
        1,
        2,
    )


# -- binary image vs digest ---------------------------------------------------------------

SMALL_DDL = """
CREATE TABLE {name} (order_id text PRIMARY KEY, total {total}, doc jsonb, note text,
    produced_at timestamptz NOT NULL, source text)
"""


def small_table(dsn: str, name: str, rows: Sequence[dict[str, Any]], total: str) -> None:
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(SMALL_DDL.format(name=name, total=total))
        for r in rows:
            cur.execute(
                f"INSERT INTO {name} VALUES (%s, %s, %s::jsonb, %s, %s, %s)",
                (r["order_id"], r["total"], r["doc"], r["note"], r["produced_at"], r["source"]),
            )


def small_rows(n: int = 30) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Equal rows but for: numeric scale (column and inside jsonb), jsonb key order, a
    trailing space, one other note and one missing key."""
    control, candidate = [], []
    for i in range(1, n + 1):
        at = T0 + timedelta(milliseconds=10 * i)
        row = {
            "order_id": f"ord-{i:06d}",
            "total": f"{i}.50",
            "doc": f'{{"a": {i}, "b": "x"}}',
            "note": "ok",
            "produced_at": at,
            "source": "sync",
        }
        control.append(row)
        candidate.append({**row, "produced_at": at + timedelta(milliseconds=300), "source": "e"})
    control[2]["total"], candidate[2]["total"] = "1.0", "1.00"
    control[4]["doc"], candidate[4]["doc"] = '{"a": 1.0}', '{"a": 1.00}'
    control[6]["doc"], candidate[6]["doc"] = '{"a": 1, "b": 2}', '{"b": 2, "a": 1}'
    candidate[8]["note"] = "ok "
    candidate[10]["note"] = "changed"
    del candidate[12]
    return control, candidate


def test_binary_image_gives_the_python_paths_result_on_scale_order_and_spaces(
    dsn: str,
) -> None:
    control, candidate = small_rows()
    small_table(dsn, "sync_outcomes", control, "numeric")
    small_table(dsn, "event_outcomes", candidate, "numeric")
    got, how = joined_path(dsn, TABLES)
    assert (how["unique_control"], how["unique_candidate"], how["by"]) == (True, True, "image")
    expected = python_path(dsn, TABLES)
    assert_same(got, expected)
    # 1.0 = 1.00 for the engine (column and jsonb); a trailing space is a difference
    assert dict(got.counts) == {"divergent": 2, "match": 27, "missing": 1}
    assert got.paths == (("note", 2),)
    assert [s.key for s in got.samples] == ["ord-000009", "ord-000011", "ord-000013"]
    # the binary images of 1.0 and 1.00 differ: those two keys go to the engine, with the
    # two notes and the missing key; jsonb keeps its keys in its own order: decided in SQL
    assert how["keys_returned"] == 5


def test_different_column_types_compare_by_digest_with_the_python_result(dsn: str) -> None:
    control, candidate = small_rows()
    small_table(dsn, "sync_outcomes", control, "numeric")
    small_table(dsn, "event_outcomes", candidate, "text")
    got, how = joined_path(dsn, TABLES)
    assert (how["unique_control"], how["unique_candidate"], how["by"]) == (True, True, "digest")
    assert_same(got, python_path(dsn, TABLES))
    assert dict(got.counts) == {"divergent": 29, "missing": 1}  # numeric vs text total
    assert got.paths == (("note", 2), ("total", 29))


# -- workers ------------------------------------------------------------------------------


@pytest.fixture
def many_divergent(dsn: str) -> str:
    control, candidate = equal_rows(400)
    for i in range(0, 400, 5)[:60]:
        candidate[i]["status"] = "CANCELLED"
    candidate[7]["produced_at"] = (T0 + timedelta(seconds=30)).isoformat()  # late
    del candidate[9]  # missing
    insert(dsn, "sync_outcomes", control)
    insert(dsn, "event_outcomes", candidate)
    execute(
        dsn,
        "ALTER TABLE sync_outcomes ADD PRIMARY KEY (order_id)",
        "ALTER TABLE event_outcomes ADD PRIMARY KEY (order_id)",
    )
    return dsn


def test_one_or_two_workers_give_the_python_paths_counts_samples_and_series(
    many_divergent: str,
) -> None:
    options = replace(OPTIONS, sample_limit=20)
    expected = python_path(many_divergent, TABLES, options)
    assert dict(expected.counts) == {"divergent": 60, "late": 1, "match": 338, "missing": 1}
    assert len([s for s in expected.samples if s.category == "divergent"]) == 20
    for workers in (1, 2):
        got, how = joined_path(many_divergent, TABLES, options, workers=workers)
        assert (how["by"], how["workers"]) == ("image", workers)
        assert_same(got, expected)


def test_an_error_in_one_worker_is_one_line_from_the_keys(dsn: str) -> None:
    control, candidate = equal_rows(200)
    insert(dsn, "sync_outcomes", control)
    insert(dsn, "event_outcomes", candidate)
    failing = (
        "SELECT *, 1 / (CASE WHEN order_id = 'ord-000007' THEN 0 ELSE 1 END) AS boom "
        "FROM event_outcomes"
    )
    run = joined_compare(
        source(dsn, TABLES[0], "sync"),
        source(dsn, failing, "event"),
        ReadWindow(),
        options=OPTIONS,
        scope=SCOPE,
        workers=2,
    )
    with pytest.raises(SourceError) as caught:
        list(run.keys)
    assert str(caught.value) == "sync+event source failed: DivisionByZero: division by zero"
    assert not join_threads()


def join_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("cutover-join-")]


def test_closing_the_keys_after_the_first_joins_the_worker_threads(
    many_divergent: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import comparators.joined

    monkeypatch.setattr(comparators.joined, "_BATCH", 1)  # fill the workers' queues
    control, candidate = (
        source(many_divergent, TABLES[0], "sync"),
        source(many_divergent, TABLES[1], "event"),
    )
    run = joined_compare(control, candidate, ReadWindow(), options=OPTIONS, scope=SCOPE)
    first = next(run.keys)
    assert first.key == "ord-000001"
    assert len(join_threads()) == 2  # each blocked on its full queue (31 keys, room for 4)
    run.keys.close()  # type: ignore[attr-defined]  # a generator
    assert not join_threads()
