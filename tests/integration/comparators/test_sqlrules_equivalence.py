"""The rules compiled into SQL decide like the Python rules (hypothesis, real Postgres).

Generated records and rules: two rows whose SQL digests are equal always agree under the
Python rules (never a wrong match), and for the values generated here the SQL and Python
decide alike pairwise; the whole run gives the same categories, paths and explanations
through the one-join path and the streaming Python path.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg.types.json import Jsonb

from comparators.diff import Scope, agree, compare, diff_records, summarise
from comparators.joined import joined_compare
from comparators.result import merge2
from comparators.rules import CompareOptions, Tolerance, TruncateTimestamps
from comparators.sources import ReadWindow, SqlSource
from comparators.sqlrules import compile_rules
from rehearsal.stack.endpoints import Endpoints
from tests.unit.comparators.factories import LATER, T0

pytestmark = pytest.mark.integration

Record = dict[str, Any]


@pytest.fixture(scope="module")
def dsn(endpoints: Endpoints) -> Iterator[str]:
    from rehearsal.stack.pgadmin import create_database, drop_database

    name = f"t_{uuid.uuid4().hex[:12]}"
    create_database(endpoints, name)
    yield endpoints.dsn(name)
    drop_database(endpoints, name)


amounts = st.one_of(
    st.integers(-50, 5000),
    st.decimals(Decimal("-50"), Decimal("5000"), places=2).map(float),
)
names = st.sampled_from(["Ann", "bob", "CAROL", "Dave O'Neil"])
seconds = st.integers(0, 86_400 * 3)
micros = st.sampled_from([0, 1000, 123_456, 500_000, 999_999])
tags = st.lists(st.sampled_from(["a", "b", "c", 1, 2, True]), max_size=4)
items = st.lists(
    st.fixed_dictionaries({"qty": st.integers(0, 9), "note": st.sampled_from(["x", "y"])}),
    max_size=3,
)


def iso(second: int, micro: int, zulu: bool) -> str:
    at = T0 + timedelta(seconds=second, microseconds=micro)
    text = at.isoformat()
    return text.replace("+00:00", "Z") if zulu else text


@st.composite
def records(draw: st.DrawFn) -> tuple[Record, Record]:
    """A control record and a candidate that differs from it in representation (what the
    rules forgive) and sometimes in value."""
    second, micro = draw(seconds), draw(micros)
    base: Record = {
        "amount": draw(amounts),
        "name": draw(names),
        "at": iso(second, micro, draw(st.booleans())),
        "tags": draw(tags),
        "nested": {"x": draw(amounts), "ref": draw(st.sampled_from(["r1", "r2"]))},
        "items": draw(items),
    }
    other = json.loads(json.dumps(base))
    change = draw(st.sets(st.sampled_from(list(CHANGES)), max_size=3))
    for name in sorted(change):
        CHANGES[name](other, draw)
    return base, other


def _amount_text(r: Record, draw: st.DrawFn) -> None:
    r["amount"] = f"{Decimal(str(r['amount'])):.3f}"


def _amount_nudge(r: Record, draw: st.DrawFn) -> None:
    step = Decimal(draw(st.sampled_from(["0.01", "0.3", "2"])))
    r["amount"] = float(Decimal(str(r["amount"])) + step)


def _name_case(r: Record, draw: st.DrawFn) -> None:
    r["name"] = r["name"].swapcase()


def _at_fraction(r: Record, draw: st.DrawFn) -> None:
    second = r["at"][:19]
    r["at"] = f"{second}.{draw(st.sampled_from(['0', '25', '999999']))}+00:00"


def _at_minute(r: Record, draw: st.DrawFn) -> None:
    r["at"] = r["at"][:14] + f"{(int(r['at'][14:16]) + 1) % 60:02d}" + r["at"][16:]


def _tags_shuffled(r: Record, draw: st.DrawFn) -> None:
    r["tags"] = list(reversed(r["tags"]))


def _tags_changed(r: Record, draw: st.DrawFn) -> None:
    r["tags"] = [*r["tags"], "z"]


def _ref_changed(r: Record, draw: st.DrawFn) -> None:
    r["nested"]["ref"] = "r9"


def _items_notes(r: Record, draw: st.DrawFn) -> None:
    r["items"] = [{**i, "note": "w"} for i in r["items"]]


def _items_reversed(r: Record, draw: st.DrawFn) -> None:
    r["items"] = list(reversed(r["items"]))


def _nested_text(r: Record, draw: st.DrawFn) -> None:
    r["nested"]["x"] = str(r["nested"]["x"])


CHANGES = {
    "amount_text": _amount_text,
    "amount_nudge": _amount_nudge,
    "name_case": _name_case,
    "at_fraction": _at_fraction,
    "at_minute": _at_minute,
    "tags_shuffled": _tags_shuffled,
    "tags_changed": _tags_changed,
    "ref_changed": _ref_changed,
    "items_notes": _items_notes,
    "items_reversed": _items_reversed,
    "nested_text": _nested_text,
}


@st.composite
def options(draw: st.DrawFn) -> CompareOptions:
    tolerance = draw(st.sampled_from([None, "0.05", "0.5"]))
    unit = draw(st.sampled_from([None, "minute", "second", "millisecond"]))
    return CompareOptions(
        key="k",
        ignore=("produced_at", *draw(st.sets(st.sampled_from(["nested.ref", "items.note"])))),
        decimals=tuple(draw(st.sets(st.sampled_from(["amount", "nested.x", "items.qty"])))),
        tolerances=(Tolerance("amount", Decimal(tolerance)),) if tolerance else (),
        truncate=(TruncateTimestamps(("at",), unit),) if unit else (),
        case_insensitive=("name",) if draw(st.booleans()) else (),
        unordered=tuple(draw(st.sets(st.sampled_from(["tags", "items"])))),
    )


def load(dsn: str, table: str, rows: list[Record]) -> None:
    with psycopg.connect(dsn) as conn:
        conn.execute(f"CREATE TABLE {table} (outcome jsonb NOT NULL)")
        with conn.cursor() as cur, cur.copy(f"COPY {table} (outcome) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([Jsonb(row)])


def sql_digests(dsn: str, table: str, opts: CompareOptions) -> dict[str, str]:
    rules = compile_rules(opts, [("outcome", 3802)], json_column="outcome")
    sql = f"SELECT src.outcome->>'k', {rules.digest} FROM {table} AS src"
    with psycopg.connect(dsn) as conn:
        conn.execute("SET jit = off")
        return dict(conn.execute(sql, rules.params).fetchall())


def keyed(pairs: list[tuple[Record, Record]]) -> tuple[list[Record], list[Record]]:
    control, candidate = [], []
    for i, (a, b) in enumerate(pairs):
        at = T0 + timedelta(seconds=i)
        control.append({**a, "k": f"k{i:03d}", "produced_at": at.isoformat()})
        candidate.append(
            {**b, "k": f"k{i:03d}", "produced_at": (at + timedelta(seconds=1)).isoformat()}
        )
    return control, candidate


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(opts=options(), pairs=st.lists(records(), min_size=1, max_size=40))
def test_sql_rules_decide_like_python_and_both_paths_give_one_result(
    dsn: str, opts: CompareOptions, pairs: list[tuple[Record, Record]]
) -> None:
    control, candidate = keyed(pairs)
    suffix = uuid.uuid4().hex[:8]
    c_table, d_table = f"c_{suffix}", f"d_{suffix}"
    load(dsn, c_table, control)
    load(dsn, d_table, candidate)
    try:
        c_digest, d_digest = sql_digests(dsn, c_table, opts), sql_digests(dsn, d_table, opts)
        for a, b in zip(control, candidate, strict=True):
            same_in_sql = c_digest[a["k"]] == d_digest[b["k"]]
            same_in_python = agree(opts.normalise(a), opts.normalise(b), opts)
            if same_in_sql:  # never a wrong match
                assert diff_records(a, b, opts) == ()
            assert same_in_sql == same_in_python, (a, b)
        sources = [
            SqlSource(dsn, f"SELECT outcome FROM {t}", name=t, key="k", pushdown=p)
            for t, p in ((c_table, False), (d_table, False), (c_table, True), (d_table, True))
        ]
        scope = Scope(now=LATER)
        window = ReadWindow()
        python = compare(
            sources[0].observations(window), sources[1].observations(window), opts, scope
        )
        run = joined_compare(sources[2], sources[3], window, options=opts, scope=scope)
        joined = merge2(summarise(run.keys, opts), run.decided)
        assert joined.counts == python.counts
        assert joined.paths == python.paths
        assert joined.samples == python.samples
    finally:
        with psycopg.connect(dsn) as conn:
            conn.execute(f"DROP TABLE {c_table}, {d_table}")
