"""The PostgreSQL store transaction: claim checks and bulk writes (psycopg 3).

The big tables (one or more rows per event) are written with ``COPY``: straight into the
table when the batch brings only new keys (the usual case), else through a session-private
staging table merged with ``INSERT ... SELECT ... ON CONFLICT``, so upserts keep the writes
idempotent and the order read model never moves a final status back (``status_rank``).
The small ones (stock deltas, anomaly counters, sequences) go as one JSON parameter each.
``bench/bench_shadow.py`` measures the difference.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, cast

import orjson
import psycopg

from cutover.shadow import AlreadyProcessedError, translate_errors
from legacy_app.orderflow.changes import Changes

_NULL = "\\N"  # NULL in COPY's text format


@functools.lru_cache(maxsize=8192)
def _scalar_text(value: object) -> str:
    """``str`` of a decimal or a time; a batch repeats the same few, so they are cached."""
    return str(value)


@functools.lru_cache(maxsize=16384)
def _iso(value: datetime) -> str:
    """A time as ISO text for ``COPY``: psycopg's own dumper costs ~3 µs per time, this ~0.3 µs
    (a batch repeats its "now" on every row)."""
    return value.isoformat()


def _t(value: datetime | None) -> str:
    """A time or NULL in ``COPY``'s text format."""
    return _NULL if value is None else _iso(value)


def _json(value: object) -> str:
    """``value`` as compact JSON text (decimals as strings)."""
    return orjson.dumps(value, default=_scalar_text).decode()


_RECORDSET = re.compile(r"json_to_recordset\(%s::json\) AS (\w+)\(([^)]*)\)")


@functools.cache
def _positional(sql: str) -> str:
    """Rewrite ``json_to_recordset(%s::json) AS x(a text, b int)`` to read a JSON array of
    arrays: ``(SELECT (r->>0)::text AS a, (r->>1)::int AS b FROM json_array_elements(...)) AS x``.
    """

    def expand(match: re.Match[str]) -> str:
        cols = []
        for i, spec in enumerate(c.strip() for c in match[2].split(",")):
            name, typ = spec.split(None, 1)
            op = "->" if typ in ("json", "jsonb") else "->>"
            cols.append(f"(r{op}{i})::{typ} AS {name}")
        # jsonb: the document is parsed once, then each r->>i is a cheap lookup
        rows = "jsonb_array_elements(%s::jsonb)"
        return f"(SELECT {', '.join(cols)} FROM {rows} AS r) AS {match[1]}"

    return _RECORDSET.sub(expand, sql)


def _text_array(values: Collection[str]) -> str:
    """A ``text[]`` literal (quoted, escaped): adapts thousands of ids at C speed."""
    return (
        "{"
        + ",".join('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values)
        + "}"
    )


def _e(text: str) -> str:
    """Text escaped for ``COPY``'s text format: backslash, tab, newline and carriage return
    (the usual case, nothing to escape, costs four scans)."""
    if "\\" in text:
        text = text.replace("\\", "\\\\")
    if "\t" in text:
        text = text.replace("\t", "\\t")
    if "\n" in text:
        text = text.replace("\n", "\\n")
    if "\r" in text:
        text = text.replace("\r", "\\r")
    return text


def _ej(json_text: str) -> str:
    """JSON text escaped for ``COPY``: JSON has no raw control characters, only backslashes."""
    return json_text.replace("\\", "\\\\") if "\\" in json_text else json_text


Cell = tuple[Literal["text", "json", "value", "nullable"], str]
"""One column of a row as ``COPY`` text: its kind and a Python expression over the row ``r``.

``text`` is escaped; ``json`` is serialized, then only its backslashes escaped; ``value``
(numbers, booleans as ``t``/``f``, ISO times) never needs escaping; ``nullable`` may be
``\\N``."""


class _RowFormat:
    """How one table's rows become ``COPY`` text, compiled from its :data:`Cell` list.

    Two formatters, each one f-string per row: ``escaped`` escapes every text value, ``plain``
    writes them as they are. :meth:`block` tries ``plain`` first and keeps its text when no
    value held a tab, newline, carriage return or backslash — checked on the whole block at C
    speed (one tab between cells, one newline per row, neither backslash nor CR anywhere) —
    else formats again with ``escaped``. Most batches hold no such character, so escaping
    (four scans per value, ~40 text values per event in the full flow) is skipped. A table
    with ``nullable`` cells has no ``plain`` formatter: its ``\\N`` would fail the check.
    """

    __slots__ = ("escaped", "plain", "tabs")

    def __init__(self, cells: Sequence[Cell]) -> None:
        self.tabs = len(cells) - 1
        self.escaped = self._compile(cells, escape=True)
        nullable = any(kind == "nullable" for kind, _expr in cells)
        self.plain = None if nullable else self._compile(cells, escape=False)

    @staticmethod
    def _compile(cells: Sequence[Cell], *, escape: bool) -> Callable[[Iterable[Any]], str]:
        def field(kind: str, expr: str) -> str:
            if kind == "text" and escape:
                return f"_e({expr})"
            if kind == "json":
                return f"_ej(_json({expr}))" if escape else f"_json({expr})"
            return expr

        row = "\\t".join("{" + field(kind, expr) + "}" for kind, expr in cells)
        source = f'lambda rows: "".join([f"{row}\\n" for r in rows])'
        names = {"_e": _e, "_ej": _ej, "_json": _json, "_iso": _iso, "_t": _t}
        return cast(Callable[[Iterable[Any]], str], eval(source, names))  # noqa: S307 (our own cells)

    def block(self, rows: Collection[Any]) -> str:
        """The ``COPY`` text of ``rows`` (a sized collection, iterated at most twice)."""
        if not rows:
            return ""
        if self.plain is not None:
            text = self.plain(rows)
            n = len(rows)
            if (
                "\\" not in text
                and "\r" not in text
                and text.count("\n") == n
                and text.count("\t") == n * self.tabs
            ):
                return text
        return self.escaped(rows)


@dataclass(frozen=True, slots=True)
class _Table:
    """A table written with :meth:`PgStoreTx._write`: its columns, how its rows are formatted
    and how a clash merges."""

    name: str
    columns: tuple[str, ...]
    row: _RowFormat
    on_conflict: str
    fresh: bool = True  # a batch's keys are usually new (apply_encoded copies them directly)


_RESERVATIONS = _Table(
    "reservations",
    ("order_id", "sku", "qty", "released"),
    _RowFormat(
        [
            ("text", "r.order_id"),
            ("text", "r.sku"),
            ("value", "r.qty"),
            ("value", "'t' if r.released else 'f'"),
        ]
    ),
    "ON CONFLICT (order_id, sku) DO UPDATE SET qty = EXCLUDED.qty, "
    "released = EXCLUDED.released, updated_at = now()",
)
_PAYMENTS = _Table(
    "payments",
    ("order_id", "amount", "status", "attempts"),
    _RowFormat(
        [
            ("text", "r.order_id"),
            ("value", "r.amount"),
            ("text", "r.status"),
            ("value", "r.attempts"),
        ]
    ),
    "ON CONFLICT (order_id) DO UPDATE SET amount = EXCLUDED.amount, status = EXCLUDED.status, "
    "attempts = EXCLUDED.attempts, updated_at = now()",
)
_SHIPMENTS = _Table(
    "shipments",
    ("order_id", "carrier", "status"),
    _RowFormat([("text", "r.order_id"), ("text", "r.carrier"), ("text", "r.status")]),
    "ON CONFLICT (order_id) DO UPDATE SET carrier = EXCLUDED.carrier, "
    "status = EXCLUDED.status, updated_at = now()",
)
_NOTIFICATIONS = _Table(
    "notifications",
    ("order_id", "template", "recipient"),
    _RowFormat([("text", "r.order_id"), ("text", "r.template"), ("text", "r.recipient")]),
    "ON CONFLICT DO NOTHING",
)
_ORDERS = _Table(
    "order_status",
    ("order_id", "correlation_id", "status", "status_rank", "total", "customer_email",
     "updated_at", "finished_at", "event_ts"),
    _RowFormat([("text", "r.order_id"), ("text", "r.correlation_id"), ("text", "r.status"),
                ("value", "r.rank"), ("value", "r.total"), ("text", "r.customer_email"),
                ("value", "_iso(r.updated_at)"), ("nullable", "_t(r.finished_at)"),
                ("value", "_iso(r.event_ts)")]),
    "ON CONFLICT (order_id) DO UPDATE SET status = EXCLUDED.status, "
    "status_rank = EXCLUDED.status_rank, updated_at = EXCLUDED.updated_at, "
    "finished_at = coalesce(EXCLUDED.finished_at, t.finished_at), "
    "correlation_id = coalesce(nullif(t.correlation_id, ''), EXCLUDED.correlation_id) "
    "WHERE t.status_rank <= EXCLUDED.status_rank",
)  # fmt: skip
_OUTBOX = _Table(
    "outbox",
    ("id", "aggregatetype", "aggregateid", "type", "payload", "correlation_id", "causation_id"),
    _RowFormat(
        [
            ("text", "r.id"),
            ("text", "r.aggregatetype"),
            ("text", "r.aggregateid"),
            ("text", "r.type"),
            ("json", "r.payload"),
            ("text", "r.correlation_id"),
            ("text", "r.causation_id"),
        ]
    ),
    "ON CONFLICT (id) DO NOTHING",
)
_SAGAS = _Table(
    "sagas",
    ("order_id", "state", "steps", "updated_at"),
    _RowFormat(
        [
            ("text", "r.order_id"),
            ("text", "r.state"),
            ("json", "list(r.steps)"),
            ("value", "_iso(r.updated_at)"),
        ]
    ),
    "ON CONFLICT (order_id) DO UPDATE SET state = EXCLUDED.state, steps = EXCLUDED.steps, "
    "updated_at = EXCLUDED.updated_at",
)
_ANALYTICS = _Table(
    "analytics_product_minute",
    ("minute", "sku", "orders", "quantity", "revenue"),
    _RowFormat(
        [
            ("value", "_iso(r.minute)"),
            ("text", "r.sku"),
            ("value", "r.orders"),
            ("value", "r.quantity"),
            ("value", "r.revenue"),
        ]
    ),
    "ON CONFLICT (minute, sku) DO UPDATE SET orders = t.orders + EXCLUDED.orders, "
    "quantity = t.quantity + EXCLUDED.quantity, revenue = t.revenue + EXCLUDED.revenue",
    fresh=False,  # one row per product and minute: every batch of the minute adds to it
)


_PROCESSED_ROW = _RowFormat(
    [("text", "r.consumer"), ("text", "r.event_id"), ("value", "_iso(r.event_ts)")]
)


@dataclass(frozen=True, slots=True)
class EncodedChanges:
    """A batch's :class:`Changes` as ``COPY`` blocks, ready for any transaction to write."""

    consumer: str
    event_ids: frozenset[str]
    processed: bytes
    deltas: list[list[Any]]
    tables: tuple[tuple[_Table, bytes], ...]


def encode_changes(changes: Changes) -> EncodedChanges:
    """Format ``changes`` for :meth:`PgStoreTx.apply_encoded` (pure: no connection needed).

    One f-string per row (see :class:`_RowFormat`), not a call per value: a full-flow batch
    has ~12 rows per event and this runs on the worker's busiest thread. Every text value is
    escaped unless the block shows none needs it; numbers and ISO times never do.
    ``tests/unit/shadow/test_copy_text.py`` checks the result against a value-by-value
    formatter, itself checked against a reader written from PostgreSQL's documentation of
    the format.
    """
    analytics = [r for _key, r in sorted(changes.analytics.items())]  # shared keys: fixed order
    tables: list[tuple[_Table, Collection[Any]]] = [
        (_RESERVATIONS, changes.reservations.values()),
        (_PAYMENTS, changes.payments.values()),
        (_SHIPMENTS, changes.shipments.values()),
        (_NOTIFICATIONS, changes.notifications.values()),
        (_ORDERS, changes.orders.values()),
        (_OUTBOX, changes.outbox),
        (_SAGAS, changes.sagas.values()),
        (_ANALYTICS, analytics),
    ]
    return EncodedChanges(
        consumer=changes.processed[0].consumer if changes.processed else "",
        event_ids=frozenset(r.event_id for r in changes.processed),
        processed=_PROCESSED_ROW.block(changes.processed).encode(),
        deltas=[[k, v] for k, v in changes.stock_delta.items() if v],
        tables=tuple((table, table.row.block(rows).encode()) for table, rows in tables if rows),
    )


class PgStoreTx:
    """An open transaction on a psycopg connection (see :class:`shadow.store.StoreTx`).

    Writes go by ``COPY`` (see :meth:`_write`) or, for the small tables, as one JSON
    parameter expanded server-side — never thousands of parameters adapted one by one.
    """

    def __init__(self, conn: psycopg.Connection[Any], schema: str) -> None:
        self._conn = conn
        self._s = schema

    def _exec(self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> None:
        self._conn.execute(sql, params)

    def _probe(
        self, ids: Collection[str], column: str, table: str, where: str, params: Sequence[Any]
    ) -> list[tuple[str, Any]]:
        """``(id, column)`` of the row of ``table`` matching ``where`` and ``key = id``, for
        each id that has one: one index probe per id (``LATERAL ... LIMIT 1``). With
        ``key = ANY(...)`` the planner reads the whole range of the prefix once the table is
        large, so each batch's lookups would grow with everything ever processed."""
        cur = self._conn.execute(
            f"SELECT x.id, hit.{column} FROM unnest(%s::text[]) AS x(id) CROSS JOIN LATERAL ("
            f"SELECT t.{column} FROM {self._s}.{table} t WHERE {where} LIMIT 1) AS hit",
            (_text_array(ids), *params),
        )
        return [(row[0], row[1]) for row in cur]

    def processed_ids(self, consumer: str, event_ids: Collection[str]) -> set[str]:
        if not event_ids:
            return set()
        found = self._probe(
            event_ids, "event_id", "processed_events",
            "t.consumer = %s AND t.event_id = x.id", (consumer,),
        )  # fmt: skip
        return {i for i, _ in found}

    def lock_stock(self, skus: Collection[str]) -> dict[str, int]:
        return self._stock(skus, " ORDER BY sku FOR UPDATE")

    def read_stock(self, skus: Collection[str]) -> dict[str, int]:
        return self._stock(skus, "")

    def _stock(self, skus: Collection[str], suffix: str) -> dict[str, int]:
        if not skus:
            return {}
        cur = self._conn.execute(
            f"SELECT sku, available FROM {self._s}.stock WHERE sku = ANY(%s::text[]){suffix}",
            (sorted(skus),),
        )
        return {row[0]: int(row[1]) for row in cur}

    def apply(self, changes: Changes) -> None:
        with translate_errors():
            self._apply(encode_changes(changes), direct=False)

    def apply_encoded(self, encoded: object) -> None:
        """Write a batch encoded by :func:`encode_changes` whose keys are expected to be new:
        rows are copied without a savepoint (two round trips fewer per table), so a key that
        exists after all fails the whole transaction (:class:`StoreWriteError`)."""
        if not isinstance(encoded, EncodedChanges):
            raise TypeError(f"expected EncodedChanges, got {type(encoded).__name__}")
        with translate_errors():
            self._apply(encoded, direct=True)

    def _apply(self, enc: EncodedChanges, *, direct: bool) -> None:
        self._processed(enc)
        self._bulk(
            f"UPDATE {self._s}.stock s SET available = s.available - d.delta "
            "FROM json_to_recordset(%s::json) AS d(sku text, delta bigint) WHERE s.sku = d.sku",
            enc.deltas,
        )
        for table, data in enc.tables:
            self._write(table, data, direct=direct and table.fresh)

    def _copy(self, table: str, columns: Sequence[str], data: bytes) -> None:
        """``COPY table (columns) FROM STDIN`` of a block from :func:`encode_changes`."""
        with (
            self._conn.cursor() as cur,
            cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
        ):
            copy.write(data)

    def _write(self, table: _Table, data: bytes, *, direct: bool) -> None:
        """Insert rows, or merge them with ``table.on_conflict`` where some keys exist.

        Most batches only bring new keys, so the rows are first copied straight into the table
        (``direct``: without a savepoint, a clash fails the transaction), else inside a
        savepoint: a unique violation rolls that back, and the rows go through a
        session-private staging table and ``INSERT ... SELECT ... ON CONFLICT`` instead.
        """
        target = f"{self._s}.{table.name}"
        if direct:
            self._copy(target, table.columns, data)
            return
        try:
            with self._conn.transaction():
                self._copy(target, table.columns, data)
            return
        except psycopg.errors.UniqueViolation:
            pass
        stage = f"pg_temp.cutover_stage_{self._s}_{table.name}"
        cols = ", ".join(table.columns)
        self._exec(
            f"CREATE TEMP TABLE IF NOT EXISTS cutover_stage_{self._s}_{table.name} "
            f"(LIKE {target} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )
        self._exec(f"TRUNCATE {stage}")
        self._copy(stage, table.columns, data)
        self._exec(
            f"INSERT INTO {target} AS t ({cols}) SELECT {cols} FROM {stage} {table.on_conflict}"
        )

    def _bulk(self, sql: str, rows: list[list[Any]]) -> None:
        """Run ``sql`` with ``rows`` sent as one JSON array of arrays (for the small tables)."""
        if rows:
            self._exec(_positional(sql), (_json(rows),))

    def _processed(self, enc: EncodedChanges) -> None:
        """Plain inserts: a unique violation means another worker applied one of these events
        first ("already done"), so the whole batch is redone after its claim check."""
        if not enc.event_ids:
            return
        try:
            self._copy(
                f"{self._s}.processed_events", ("consumer", "event_id", "event_ts"), enc.processed
            )
        except psycopg.errors.UniqueViolation as exc:
            raise AlreadyProcessedError(enc.consumer, enc.event_ids) from exc

    def add_anomalies(self, counts: Mapping[tuple[str, str], int]) -> None:
        items = [[c, k, n] for (c, k), n in counts.items() if n]
        self._bulk(
            f"INSERT INTO {self._s}.delivery_anomalies AS d (context, kind, count) "
            "SELECT context, kind, count FROM json_to_recordset(%s::json) "
            "AS x(context text, kind text, count bigint) "
            "ON CONFLICT (context, kind) DO UPDATE SET count = d.count + EXCLUDED.count, "
            "last_seen_at = now()",
            items,
        )

    def last_sequences(
        self, consumer: str, context: str, aggregate_ids: Collection[str]
    ) -> dict[str, int]:
        if not aggregate_ids:
            return {}
        found = self._probe(
            aggregate_ids, "last_sequence", "aggregate_sequences",
            "t.consumer = %s AND t.context = %s AND t.aggregate_id = x.id", (consumer, context),
        )  # fmt: skip
        return {i: int(q) for i, q in found}

    def set_sequences(self, consumer: str, context: str, sequences: Mapping[str, int]) -> None:
        self._bulk(
            f"INSERT INTO {self._s}.aggregate_sequences AS a "
            "(consumer, context, aggregate_id, last_sequence) "
            "SELECT consumer, context, aggregate_id, last_sequence "
            "FROM json_to_recordset(%s::json) AS x(consumer text, context text, "
            "aggregate_id text, last_sequence bigint) "
            "ON CONFLICT (consumer, context, aggregate_id) DO UPDATE SET "
            "last_sequence = greatest(a.last_sequence, EXCLUDED.last_sequence)",
            [[consumer, context, a, q] for a, q in sequences.items()],
        )

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        with self._conn.transaction():
            yield
