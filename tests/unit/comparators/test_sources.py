from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from comparators.errors import ImportTargetError
from comparators.sources import CallableSource, InMemorySource, OutcomeSource, ReadWindow, libpq_url
from tests.unit.comparators.source_contract import SourceContract, contract_records


class TestInMemorySource(SourceContract):
    def make_source(self, records: Sequence[dict[str, Any]]) -> OutcomeSource:
        return InMemorySource(list(records), key="order_id")


_ROWS: list[dict[str, Any]] = []


def rows() -> Iterator[dict[str, Any]]:
    yield from _ROWS


class TestCallableSource(SourceContract):
    def make_source(self, records: Sequence[dict[str, Any]]) -> OutcomeSource:
        _ROWS[:] = records
        return CallableSource("tests.unit.comparators.test_sources:rows", key="order_id")


def test_callable_passes_kwargs() -> None:
    src = CallableSource(
        "tests.unit.comparators.test_sources:limited", kwargs={"n": 2}, key="order_id"
    )
    assert len(list(src.observations(ReadWindow()))) == 2


def limited(n: int) -> list[dict[str, Any]]:
    return contract_records()[:n]


def test_callable_bad_target() -> None:
    with pytest.raises(ImportTargetError):
        list(CallableSource("nope_module_q:rows", key="order_id").observations(ReadWindow()))


def test_libpq_url_strips_driver() -> None:
    assert libpq_url("postgresql+psycopg://u:p@h:1/db") == "postgresql://u:p@h:1/db"
    assert libpq_url("host=x dbname=y") == "host=x dbname=y"


def test_digest_query_hashes_row_without_ignored_columns_and_with_types() -> None:
    from comparators.sources import SqlSource

    src = SqlSource("postgresql://x", "SELECT * FROM t;", key="order_id")
    described = [("order_id", 25), ("total", 1700), ("produced_at", 1184), ("source", 25)]
    window = ReadWindow(digest_ignore=("produced_at", "source"))
    sql, params = src.query([n for n, _ in described], window, described)
    fields = 'quote_nullable((src."order_id")::text), coalesce((src."total")::text, E\'\\x1e\')'
    assert f"md5(concat_ws(E'\\x1f', {fields}) || %(signature)s) AS d" in sql
    assert params["signature"] == "|order_id:25,total:1700"
    assert sql.endswith('ORDER BY (src."order_id"::text) COLLATE "C"')
    assert "FROM (SELECT * FROM t) AS src" in sql


def test_digest_query_for_json_column_uses_jsonb() -> None:
    from comparators.sources import SqlSource

    src = SqlSource("postgresql://x", "SELECT doc AS outcome FROM t", key="order_id")
    window = ReadWindow(digest_ignore=("produced_at",))
    sql, params = src.query(["outcome"], window, [("outcome", 3802)])
    assert "md5((((src.outcome)::jsonb) - %(ignore)s::text[])::text) AS d" in sql
    # the mode and inconclusive columns are never hashed
    assert params["ignore"] == ["produced_at", "write_mode", "inconclusive"]
