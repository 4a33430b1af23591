"""``encode_changes`` writes rows that ``COPY ... FROM STDIN`` (text format) reads back as meant.

``copy_text`` below formats value by value, the plain way; it is checked against a reader of
the format, and ``encode_changes`` (one f-string per row) against it.

The oracle is a reader written from PostgreSQL's documentation of the format (fields split on
tab, ``\\N`` is NULL, backslash sequences decoded); ``tests/integration/shadow/test_store_pg.py``
sends awkward text through the real server as well.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal

import orjson
from hypothesis import given
from hypothesis import strategies as st

from legacy_app.orderflow.changes import (
    AnalyticsRow,
    Changes,
    NotificationRow,
    OrderStatusRow,
    OutboxRow,
    PaymentRow,
    ProcessedRow,
    ReservationRow,
    SagaRow,
    ShipmentRow,
)
from legacy_app.orderflow.store_pg_tx import encode_changes

cells = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.decimals(allow_nan=False, allow_infinity=False, places=2),
    st.text(alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\x00")),
)


def copy_cell(value: object) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    text = str(value)
    for raw, escaped in (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r")):
        text = text.replace(raw, escaped)
    return text


def copy_text(rows: list[tuple[object, ...]]) -> bytes:
    return "".join("\t".join(copy_cell(v) for v in row) + "\n" for row in rows).encode()


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


texts = st.text(alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\x00"))
# what real batches hold: nothing to escape, so encode_changes keeps its unescaped formatting
plain_texts = st.text(alphabet="abcdefghijklmnopqrstuvwxyzN0123456789-@.é ", max_size=12)
awkward_texts = st.sampled_from(["\\", "\t", "\n", "\r", "\\N", "a\tb", "\\\\n"])
times = st.datetimes(timezones=st.just(UTC))
money = st.decimals(min_value=0, max_value=10**9, places=2)


@st.composite
def changes(draw: st.DrawFn, texts: st.SearchStrategy[str] = texts) -> Changes:
    c = Changes()
    for _ in range(draw(st.integers(0, 3))):
        oid = draw(texts)
        c.processed.append(ProcessedRow(draw(texts), draw(texts), draw(times)))
        c.reservations[(oid, "s")] = ReservationRow(
            oid, draw(texts), draw(st.integers(0, 99)), draw(st.booleans())
        )
        c.payments[oid] = PaymentRow(oid, draw(money), draw(texts), draw(st.integers(1, 9)))
        c.shipments[oid] = ShipmentRow(oid, draw(texts), draw(texts))
        c.notifications[(oid, "t")] = NotificationRow(oid, draw(texts), draw(texts))
        c.orders[oid] = OrderStatusRow(
            oid,
            draw(texts),
            "completed",
            draw(money),
            draw(texts),
            draw(times),
            draw(st.none() | times),
            draw(times),
        )
        c.outbox.append(
            OutboxRow(
                draw(texts),
                draw(texts),
                oid,
                draw(texts),
                {"note": draw(texts), "n": draw(st.integers(-(2**63), 2**63 - 1))},
                draw(texts),
                draw(texts),
            )
        )
        c.sagas[oid] = SagaRow(
            oid, draw(texts), tuple(draw(st.lists(texts, max_size=3))), draw(times)
        )
        c.add_analytics(AnalyticsRow(draw(times), draw(texts), 1, 2, draw(money)))
    return c


def reference_rows(c: Changes) -> dict[str, list[tuple[object, ...]]]:
    """The rows of each table as plain tuples (the shape ``copy_text`` formats)."""
    iso = datetime.isoformat
    return {
        "reservations": [(r.order_id, r.sku, r.qty, r.released) for r in c.reservations.values()],
        "payments": [(p.order_id, p.amount, p.status, p.attempts) for p in c.payments.values()],
        "shipments": [(x.order_id, x.carrier, x.status) for x in c.shipments.values()],
        "notifications": [(n.order_id, n.template, n.recipient) for n in c.notifications.values()],
        "order_status": [
            (
                r.order_id,
                r.correlation_id,
                r.status,
                r.rank,
                r.total,
                r.customer_email,
                iso(r.updated_at),
                None if r.finished_at is None else iso(r.finished_at),
                iso(r.event_ts),
            )
            for r in c.orders.values()
        ],
        "outbox": [
            (
                r.id,
                r.aggregatetype,
                r.aggregateid,
                r.type,
                orjson.dumps(r.payload).decode(),
                r.correlation_id,
                r.causation_id,
            )
            for r in c.outbox
        ],
        "sagas": [
            (r.order_id, r.state, orjson.dumps(list(r.steps)).decode(), iso(r.updated_at))
            for r in c.sagas.values()
        ],
        "analytics_product_minute": [
            (iso(r.minute), r.sku, r.orders, r.quantity, r.revenue)
            for _k, r in sorted(c.analytics.items())
        ],
    }


@given(
    st.one_of(
        changes(),
        changes(plain_texts),
        changes(st.one_of(plain_texts, awkward_texts)),
    )
)
def test_encode_changes_formats_every_table_as_copy_text_does(c: Changes) -> None:
    encoded = encode_changes(c)
    got = {table.name: data for table, data in encoded.tables}
    for name, rows in reference_rows(c).items():
        assert got.get(name, b"") == copy_text(rows), name
    assert encoded.processed == copy_text(
        [(r.consumer, r.event_id, r.event_ts.isoformat()) for r in c.processed]
    )
    assert encoded.event_ids == {r.event_id for r in c.processed}
