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
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import psycopg

from shadow.changes import Changes
from shadow.store import AlreadyProcessedError, StoreUnavailableError, StoreWriteError


@contextmanager
def translate_errors() -> Iterator[None]:
    """Map psycopg exceptions onto the store's two errors (transient or not)."""
    try:
        yield
    except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
        raise StoreUnavailableError(
            type(exc).__name__, str(exc).splitlines()[0] if str(exc) else ""
        ) from exc
    except psycopg.Error as exc:
        raise StoreWriteError(
            type(exc).__name__, str(exc).splitlines()[0] if str(exc) else ""
        ) from exc


@functools.lru_cache(maxsize=8192)
def _scalar_text(value: object) -> str:
    """``str`` of a decimal or a time; a batch repeats the same few, so they are cached."""
    return str(value)


@functools.lru_cache(maxsize=16384)
def _iso(value: datetime) -> str:
    """A time as ISO text for ``COPY``: psycopg's own dumper costs ~3 µs per time, this ~0.3 µs
    (a batch repeats its "now" on every row)."""
    return value.isoformat()


def _t(value: datetime | None) -> str | None:
    return None if value is None else _iso(value)


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


@dataclass(frozen=True, slots=True)
class _Table:
    """A table written with :meth:`PgStoreTx._write`: its columns and how a clash merges."""

    name: str
    columns: tuple[str, ...]
    on_conflict: str


_RESERVATIONS = _Table(
    "reservations",
    ("order_id", "sku", "qty", "released"),
    "ON CONFLICT (order_id, sku) DO UPDATE SET qty = EXCLUDED.qty, "
    "released = EXCLUDED.released, updated_at = now()",
)
_PAYMENTS = _Table(
    "payments",
    ("order_id", "amount", "status", "attempts"),
    "ON CONFLICT (order_id) DO UPDATE SET amount = EXCLUDED.amount, status = EXCLUDED.status, "
    "attempts = EXCLUDED.attempts, updated_at = now()",
)
_SHIPMENTS = _Table(
    "shipments",
    ("order_id", "carrier", "status"),
    "ON CONFLICT (order_id) DO UPDATE SET carrier = EXCLUDED.carrier, "
    "status = EXCLUDED.status, updated_at = now()",
)
_NOTIFICATIONS = _Table(
    "notifications", ("order_id", "template", "recipient"), "ON CONFLICT DO NOTHING"
)
_ORDERS = _Table(
    "order_status",
    ("order_id", "correlation_id", "status", "status_rank", "total", "customer_email",
     "updated_at", "finished_at", "event_ts"),
    "ON CONFLICT (order_id) DO UPDATE SET status = EXCLUDED.status, "
    "status_rank = EXCLUDED.status_rank, updated_at = EXCLUDED.updated_at, "
    "finished_at = coalesce(EXCLUDED.finished_at, t.finished_at), "
    "correlation_id = coalesce(nullif(t.correlation_id, ''), EXCLUDED.correlation_id) "
    "WHERE t.status_rank <= EXCLUDED.status_rank",
)  # fmt: skip
_OUTBOX = _Table(
    "outbox",
    ("id", "aggregatetype", "aggregateid", "type", "payload", "correlation_id", "causation_id"),
    "ON CONFLICT (id) DO NOTHING",
)
_SAGAS = _Table(
    "sagas",
    ("order_id", "state", "steps", "updated_at"),
    "ON CONFLICT (order_id) DO UPDATE SET state = EXCLUDED.state, steps = EXCLUDED.steps, "
    "updated_at = EXCLUDED.updated_at",
)
_ANALYTICS = _Table(
    "analytics_product_minute",
    ("minute", "sku", "orders", "quantity", "revenue"),
    "ON CONFLICT (minute, sku) DO UPDATE SET orders = t.orders + EXCLUDED.orders, "
    "quantity = t.quantity + EXCLUDED.quantity, revenue = t.revenue + EXCLUDED.revenue",
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
        if not skus:
            return {}
        cur = self._conn.execute(
            f"SELECT sku, available FROM {self._s}.stock WHERE sku = ANY(%s::text[]) "
            "ORDER BY sku FOR UPDATE",
            (sorted(skus),),
        )
        return {row[0]: int(row[1]) for row in cur}

    def apply(self, changes: Changes) -> None:
        with translate_errors():
            self._apply(changes)

    def _apply(self, changes: Changes) -> None:
        self._processed(changes)
        self._write(
            _RESERVATIONS,
            [(r.order_id, r.sku, r.qty, r.released) for r in changes.reservations.values()],
        )
        deltas = [[k, v] for k, v in changes.stock_delta.items() if v]
        self._bulk(
            f"UPDATE {self._s}.stock s SET available = s.available - d.delta "
            "FROM json_to_recordset(%s::json) AS d(sku text, delta bigint) WHERE s.sku = d.sku",
            deltas,
        )
        self._write(
            _PAYMENTS,
            [(p.order_id, p.amount, p.status, p.attempts) for p in changes.payments.values()],
        )
        self._write(
            _SHIPMENTS, [(x.order_id, x.carrier, x.status) for x in changes.shipments.values()]
        )
        self._write(
            _NOTIFICATIONS,
            [(n.order_id, n.template, n.recipient) for n in changes.notifications.values()],
        )
        self._write(
            _ORDERS,
            [
                (r.order_id, r.correlation_id, r.status, r.rank, r.total, r.customer_email,
                 _iso(r.updated_at), _t(r.finished_at), _iso(r.event_ts))
                for r in changes.orders.values()
            ],
        )  # fmt: skip
        self._write(
            _OUTBOX,
            [
                (r.id, r.aggregatetype, r.aggregateid, r.type, _json(r.payload),
                 r.correlation_id, r.causation_id)
                for r in changes.outbox
            ],
        )  # fmt: skip
        self._write(
            _SAGAS,
            [
                (r.order_id, r.state, _json(list(r.steps)), r.updated_at)
                for r in changes.sagas.values()
            ],
        )
        self._write(
            _ANALYTICS,
            [  # shared keys (workers of a group meet on them): a fixed order, no deadlock
                (r.minute, r.sku, r.orders, r.quantity, r.revenue)
                for _key, r in sorted(changes.analytics.items())
            ],
        )

    def _copy(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """``COPY table (columns) FROM STDIN``: the cheapest way into PostgreSQL, row by row in C."""
        with (
            self._conn.cursor() as cur,
            cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)

    def _write(self, table: _Table, rows: Sequence[Sequence[Any]]) -> None:
        """Insert ``rows``, or merge them with ``table.on_conflict`` where some keys exist.

        Most batches only bring new keys, so the rows are first copied straight into the table
        inside a savepoint. A unique violation rolls that back, and the rows go through a
        session-private staging table and ``INSERT ... SELECT ... ON CONFLICT`` instead.
        """
        if not rows:
            return
        target = f"{self._s}.{table.name}"
        try:
            with self._conn.transaction():
                self._copy(target, table.columns, rows)
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
        self._copy(stage, table.columns, rows)
        self._exec(
            f"INSERT INTO {target} AS t ({cols}) SELECT {cols} FROM {stage} {table.on_conflict}"
        )

    def _bulk(self, sql: str, rows: list[list[Any]]) -> None:
        """Run ``sql`` with ``rows`` sent as one JSON array of arrays (for the small tables)."""
        if rows:
            self._exec(_positional(sql), (_json(rows),))

    def _processed(self, changes: Changes) -> None:
        """Plain inserts: a unique violation means another worker applied one of these events
        first ("already done"), so the whole batch is redone after its claim check."""
        if not changes.processed:
            return
        try:
            self._copy(
                f"{self._s}.processed_events",
                ("consumer", "event_id", "event_ts"),
                [(r.consumer, r.event_id, _iso(r.event_ts)) for r in changes.processed],
            )
        except psycopg.errors.UniqueViolation as exc:
            raise AlreadyProcessedError(
                changes.processed[0].consumer, {r.event_id for r in changes.processed}
            ) from exc

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
