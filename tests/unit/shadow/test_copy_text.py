"""``copy_text`` writes rows that ``COPY ... FROM STDIN`` (text format) reads back as meant.

The oracle is a reader written from PostgreSQL's documentation of the format (fields split on
tab, ``\\N`` is NULL, backslash sequences decoded); ``tests/integration/shadow/test_store_pg.py``
sends awkward text through the real server as well.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from shadow.store_pg_tx import copy_text

cells = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.decimals(allow_nan=False, allow_infinity=False, places=2),
    st.text(alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\x00")),
)


_SEQUENCES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


def read_copy_text(data: bytes) -> list[list[str | None]]:
    """PostgreSQL's reading of COPY text: rows end with newline, fields split on tab."""
    text = data.decode()
    assert text == "" or text.endswith("\n")
    rows = []
    for line in text.split("\n")[:-1]:
        fields: list[str | None] = []
        for raw in line.split("\t"):
            if raw == "\\N":
                fields.append(None)
                continue
            fields.append(
                re.sub(r"\\(.)", lambda m: _SEQUENCES.get(m[1], m[1]), raw, flags=re.DOTALL)
            )
        rows.append(fields)
    return rows


def meant(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "t" if value else "f"
    return str(value)


@given(st.lists(st.lists(cells, min_size=1, max_size=6).map(tuple), max_size=5))
def test_copy_text_reads_back_as_meant(rows: list[tuple[object, ...]]) -> None:
    assert read_copy_text(copy_text(rows)) == [[meant(v) for v in row] for row in rows]


def test_escapes_and_nulls() -> None:
    rows = [("a\\b\tc\nd\re", None, True, False, 7, Decimal("1.50"))]
    assert copy_text(rows) == b"a\\\\b\\tc\\nd\\re\t\\N\tt\tf\t7\t1.50\n"


def test_times_are_written_as_postgresql_reads_them() -> None:
    ts = datetime(2026, 11, 26, 10, 0, 1, 500, tzinfo=UTC)
    assert copy_text([(ts,)]) == b"2026-11-26 10:00:01.000500+00:00\n"
