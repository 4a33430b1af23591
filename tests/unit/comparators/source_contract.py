"""One contract for every outcome source adapter (in-memory, callable, SQL).

Subclasses provide ``make_source(records)``; the tests prove they behave alike:
key order, the watermark filter, partitions and duplicates.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from comparators.partition import Partition, all_partitions
from comparators.sources import OutcomeSource, ReadWindow
from comparators.values import materialise
from tests.unit.comparators.factories import T0, record


def contract_records() -> list[dict[str, Any]]:
    rows = [record(i, at=T0 + timedelta(seconds=i)) for i in (5, 1, 12, 3, 40, 2)]
    rows.append(record(3, at=T0 + timedelta(seconds=3)))  # a duplicate row for key 3
    return rows


class SourceContract:
    def make_source(self, records: Sequence[dict[str, Any]]) -> OutcomeSource:
        raise NotImplementedError

    def test_yields_every_row_sorted_by_key(self) -> None:
        source = self.make_source(contract_records())
        keys = [o.key for o in source.observations(ReadWindow())]
        assert keys == sorted(keys)
        assert keys.count("ord-000003") == 2 and len(keys) == 7

    def test_window_filters_on_produced_at(self) -> None:
        source = self.make_source(contract_records())
        window = ReadWindow(since=T0 + timedelta(seconds=4))
        assert [o.key for o in source.observations(window)] == [
            "ord-000005",
            "ord-000012",
            "ord-000040",
        ]

    def test_partitions_split_the_keys(self) -> None:
        source = self.make_source(contract_records())
        seen: list[str] = []
        for part in all_partitions(3):
            keys = [o.key for o in source.observations(ReadWindow(partition=part))]
            assert all(Partition(part.index, 3).contains(k) for k in keys)
            seen += keys
        assert sorted(seen) == sorted(o.key for o in source.observations(ReadWindow()))

    def test_records_carry_outcome_fields(self) -> None:
        source = self.make_source(contract_records())
        rows = iter(source.observations(ReadWindow()))  # records may be read while it is open
        first = next(rows)
        assert first.key == "ord-000001" and first.produced_at == T0 + timedelta(seconds=1)
        rec = materialise(first.record)
        assert str(rec["total"]) == "23.75"
        assert rec["payment"]["status"] == "captured"
