"""Range checksums with bisection between two real Postgres databases (no mocks).

The control side lives in one scratch database, the candidate in another; the result must
be the row-by-row path's: same counts per category, the same keys in every category, the
same timeline (the settle-lag histogram counts only the keys judged one by one).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from comparators.bisect import BisectPlan, RangeStore, RowRules
from comparators.bisect_pg import PgRangeStore, compare_ranges, pushdown_rules
from comparators.diff import Observation, Scope, compare
from comparators.errors import SourceError
from comparators.partition import Partition
from comparators.result import ComparisonResult
from comparators.rules import CompareOptions
from comparators.sources import ReadWindow, SqlSource
from rehearsal.stack.endpoints import Endpoints
from rehearsal.stack.pgadmin import create_database, drop_database
from tests.unit.comparators.factories import T0
from tests.unit.comparators.range_contract import RangeStoreContract

pytestmark = pytest.mark.integration

N = 3000
NOW = T0 + timedelta(days=1)
OPTIONS = CompareOptions(key="k", sample_limit=N)
SCOPE = Scope(now=NOW, modes=frozenset({"dual"}))
PLAN = BisectPlan(first_bits=4, step_bits=2, leaf_rows=8)
DDL = (
    "CREATE TABLE outcomes (k text, amount numeric(12,2), status text, write_mode text, "
    "inconclusive boolean, produced_at timestamptz NOT NULL)"
)


def row(i: int, **changes: Any) -> dict[str, Any]:
    base = {
        "k": f"k-{i:05d}",
        "amount": f"{i % 50}.25",
        "status": "done",
        "write_mode": "dual",
        "inconclusive": False,
        "produced_at": T0 + timedelta(seconds=i),
    }
    return {**base, **changes}


def sides() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every category: divergent, missing, extra, duplicate (one side, both sides), late,
    out of scope, inconclusive, pending."""
    control, candidate = [], []
    for i in range(N):
        c = row(i)
        if i >= N - 5:
            c = row(i, produced_at=NOW - timedelta(seconds=1))
        if i % 401 == 9:
            c = row(i, write_mode="async")
        control.append(c)
        d = dict(c, produced_at=c["produced_at"] + timedelta(milliseconds=300))
        if i % 97 == 5:
            d["amount"] = "999.99"
        if i % 301 == 7:
            d["produced_at"] = c["produced_at"] + timedelta(seconds=60)
        if i % 503 == 11:
            d["inconclusive"] = True
        if i % 211 != 3:
            candidate.append(d)
    candidate += [row(N + j) for j in range(10)]
    candidate.append(dict(candidate[100]))
    control.append(dict(control[200]))
    candidate.append(dict(candidate[200]))
    return control, candidate


def load(dsn: str, rows: Sequence[dict[str, Any]]) -> None:
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(DDL)
        cols = list(rows[0])
        with cur.copy(f"COPY outcomes ({', '.join(cols)}) FROM STDIN") as copy:
            for r in rows:
                copy.write_row([r[c] for c in cols])


@pytest.fixture
def second_database(endpoints: Endpoints) -> Iterator[str]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    create_database(endpoints, name)
    yield name
    drop_database(endpoints, name)


@pytest.fixture
def two_dsns(endpoints: Endpoints, fresh_database: str, second_database: str) -> tuple[str, str]:
    control, candidate = sides()
    dsns = endpoints.dsn(fresh_database), endpoints.dsn(second_database)
    load(dsns[0], control)
    load(dsns[1], candidate)
    return dsns


def sources(dsns: tuple[str, str]) -> tuple[SqlSource, SqlSource]:
    sql = "SELECT * FROM outcomes"
    return (
        SqlSource(dsns[0], sql, name="sync", key="k"),
        SqlSource(dsns[1], sql, name="event", key="k"),
    )


def keys_by_category(result: ComparisonResult) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for sample in result.samples:
        found.setdefault(sample.category, set()).add(sample.key)
    return found


def test_bisection_across_two_databases_finds_what_reading_rows_finds(
    two_dsns: tuple[str, str],
) -> None:
    control, candidate = sources(two_dsns)
    rows = compare(
        control.observations(ReadWindow()), candidate.observations(ReadWindow()), OPTIONS, SCOPE
    )
    ranges, stats = compare_ranges(
        control, candidate, OPTIONS, SCOPE, workers=2, plan=PLAN, exact_late=True
    )
    assert ranges.counts == rows.counts
    assert keys_by_category(ranges) == keys_by_category(rows)
    assert ranges.timeline == rows.timeline
    assert {"divergent", "missing", "extra", "duplicate", "late", "pending"} <= set(
        dict(rows.counts)
    )
    assert dict(rows.counts)["out_of_scope"] == 8 and dict(rows.counts)["inconclusive"] == 6
    assert stats.control_rows < N / 2  # most keys were matched by their range's checksum
    assert stats.levels > 1
    fast, _ = compare_ranges(control, candidate, OPTIONS, SCOPE, plan=PLAN)
    assert fast.matched == rows.matched  # match + late: late keys of agreeing ranges are matches
    assert fast.count("late") <= rows.count("late")
    assert {k for k, n in fast.counts if k not in {"match", "late"}} == {
        k for k, n in rows.counts if k not in {"match", "late"}
    }


def test_a_null_key_is_a_clear_source_error(two_dsns: tuple[str, str]) -> None:
    with psycopg.connect(two_dsns[1]) as conn:
        conn.execute("UPDATE outcomes SET k = NULL WHERE k IN ('k-00001', 'k-00002')")
    control, candidate = sources(two_dsns)
    with pytest.raises(SourceError, match=r"event source failed: 2 row\(s\) have a NULL key 'k'"):
        compare_ranges(control, candidate, OPTIONS, SCOPE)


class TestPgRangeStoreContract(RangeStoreContract):
    @pytest.fixture(autouse=True)
    def _db(self, endpoints: Endpoints, fresh_database: str) -> Iterator[None]:
        self.dsn = endpoints.dsn(fresh_database)
        self.tables = 0
        self.stores: list[RangeStore] = []
        yield
        for store in self.stores:
            store.close()

    def make_store(self, observations: Sequence[Observation], rules: RowRules) -> RangeStore:
        """A table holding the observations' keys, times, modes and flags; its digest is the
        observation's own (a column ``d``), so both stores hash the same digests."""
        self.tables += 1
        table = f"obs_{self.tables}"
        with psycopg.connect(self.dsn) as conn, conn.cursor() as cur:
            cur.execute(
                f"CREATE TABLE {table} (k text, d text, write_mode text, inconclusive boolean, "
                "produced_at timestamptz NOT NULL)"
            )
            with cur.copy(f"COPY {table} FROM STDIN") as copy:
                for o in observations:
                    copy.write_row(
                        [o.key, (o.digest or b"").hex(), o.mode, o.inconclusive, o.produced_at]
                    )
        source = SqlSource(self.dsn, f"SELECT * FROM {table}", name="pg", key="k")
        store = PgRangeStore(source, ReadWindow(), rules, _digest_column, Partition())
        self.stores.append(store)
        return store


class _ColumnDigest:
    digest = "src.d"
    text = "src.d"
    params: dict[str, Any] = {}


def _digest_column(source: SqlSource, described: Sequence[tuple[str, int]]) -> _ColumnDigest:
    return _ColumnDigest()


def test_pushdown_rules_digest_is_the_sources_own(two_dsns: tuple[str, str]) -> None:
    control, _ = sources(two_dsns)
    built = pushdown_rules(("produced_at",))(control, [("k", 25), ("produced_at", 1184)])
    assert built.digest == f"md5({built.text})"
    assert built.text.startswith("concat_ws(E'\\x1f', quote_nullable((src.\"k\")::text))")
    assert "produced_at" not in built.digest


def test_digest_text_tells_apart_rows_whose_columns_print_alike(two_dsns: tuple[str, str]) -> None:
    """The digest joins each column's text with 0x1f (text types quoted, NULL marked), so
    values that would run together, a NULL and an empty text, the text 'NULL' and a NULL,
    a JSON null and a NULL never give equal digests (never a wrong match)."""
    dsn = two_dsns[0]
    rows = [
        ("a\x1fb", "c", None, None),
        ("a", "b\x1fc", None, None),
        (None, "x", None, None),
        ("", "x", None, None),
        ("NULL", "x", None, None),
        ("'", "x", None, None),
        ("''", "x", None, None),
        ("z", "x", "null", None),
        ("z", "x", None, None),
        ("z", "x", None, "1.0"),
        ("z", "x", None, "1.00"),
    ]
    with psycopg.connect(dsn) as conn:
        conn.execute("CREATE TABLE tricky (k int, a text, b text, j jsonb, n numeric)")
        for n, row in enumerate(rows):
            conn.execute("INSERT INTO tricky VALUES (%s, %s, %s, %s, %s)", (n, *row))
        source = SqlSource(dsn, "SELECT a, b, j, n FROM tricky ORDER BY k", key="a")
        described = source.describe(conn)
        params: dict[str, Any] = {}
        digest = source._digest_expr(described, (), params)
        found = conn.execute(f"SELECT {digest} FROM tricky AS src ORDER BY k", params).fetchall()
    assert len({d for (d,) in found}) == len(rows)
