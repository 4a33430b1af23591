"""Outcome sources report a database error as one line: the server's message, no SQL."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy.exc import ProgrammingError

from comparators.errors import SourceError
from comparators.sources import CallableSource, ReadWindow


def broken_outcomes() -> list[dict[str, str]]:
    db = psycopg.errors.UndefinedColumn("column orders.total does not exist\nLINE 1: SELECT ...")
    raise ProgrammingError("SELECT orders.total FROM orders", {}, db)


def test_a_callable_source_reading_a_renamed_column_raises_one_line() -> None:
    source = CallableSource(f"{__name__}:broken_outcomes", name="sync", key="order_id")
    with pytest.raises(SourceError) as info:
        list(source.observations(ReadWindow()))
    assert str(info.value) == (
        "sync source failed: UndefinedColumn: column orders.total does not exist"
    )


def test_other_errors_of_a_callable_pass_through() -> None:
    source = CallableSource("json:loads", name="sync", kwargs={"s": "not json"}, key="order_id")
    with pytest.raises(ValueError):
        list(source.observations(ReadWindow()))
