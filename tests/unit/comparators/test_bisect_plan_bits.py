"""The first level's bits follow the table's size: about ROWS_PER_RANGE rows per range,
within 12..MAX_FIRST_BITS bits; an unknown size keeps the default plan."""

from __future__ import annotations

from comparators.bisect import BisectPlan
from comparators.bisect_pg import MAX_FIRST_BITS, ROWS_PER_RANGE, first_bits_for


def test_bits_give_about_rows_per_range_rows_per_range() -> None:
    for rows in (200_000, 1_000_000, 3_000_000):
        bits = first_bits_for(rows, 1)
        assert ROWS_PER_RANGE / 2 < rows / 2**bits <= ROWS_PER_RANGE
    assert first_bits_for(1_000_000, 1) == 17
    assert first_bits_for(1_000_000, 2) == 16  # each worker slice holds half the keys


def test_bits_are_bounded_and_unknown_sizes_keep_the_default() -> None:
    assert first_bits_for(10, 1) == 12
    assert first_bits_for(10_000_000, 1) == MAX_FIRST_BITS
    assert first_bits_for(None, 1) == BisectPlan().first_bits
    assert first_bits_for(0, 2) == BisectPlan().first_bits
