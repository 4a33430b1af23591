from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from comparators.errors import ImportTargetError
from comparators.sources import CallableSource, InMemorySource, OutcomeSource, ReadWindow, libpq_url
from tests.unit.comparators.source_contract import SourceContract, contract_records


class TestInMemorySource(SourceContract):
    def make_source(self, records: Sequence[dict[str, Any]]) -> OutcomeSource:
        return InMemorySource(list(records))


_ROWS: list[dict[str, Any]] = []


def rows() -> Iterator[dict[str, Any]]:
    yield from _ROWS


class TestCallableSource(SourceContract):
    def make_source(self, records: Sequence[dict[str, Any]]) -> OutcomeSource:
        _ROWS[:] = records
        return CallableSource("tests.unit.comparators.test_sources:rows")


def test_callable_passes_kwargs() -> None:
    src = CallableSource("tests.unit.comparators.test_sources:limited", kwargs={"n": 2})
    assert len(list(src.observations(ReadWindow()))) == 2


def limited(n: int) -> list[dict[str, Any]]:
    return contract_records()[:n]


def test_callable_bad_target() -> None:
    with pytest.raises(ImportTargetError):
        list(CallableSource("nope_module_q:rows").observations(ReadWindow()))


def test_libpq_url_strips_driver() -> None:
    assert libpq_url("postgresql+psycopg://u:p@h:1/db") == "postgresql://u:p@h:1/db"
    assert libpq_url("host=x dbname=y") == "host=x dbname=y"
