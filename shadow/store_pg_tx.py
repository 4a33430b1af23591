"""The PostgreSQL store transaction: claim checks and bulk writes (psycopg 3).

Every batch write is one statement per table fed with one JSON parameter (an array of
arrays, expanded server-side from ``jsonb``), so a batch of a thousand events costs a
dozen round trips and no per-value adaptation in Python; upserts keep the writes
idempotent and the order read model never moves a final status back (``status_rank``).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

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


def _json(rows: object) -> str:
    """Rows as one JSON text parameter (decimals and times as strings; C-speed encoding)."""
    return json.dumps(rows, separators=(",", ":"), default=_scalar_text)


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


class PgStoreTx:
    """An open transaction on a psycopg connection (see :class:`shadow.store.StoreTx`).

    Bulk writes pass each table's rows as one JSON parameter expanded server-side with
    ``json_to_recordset`` — far cheaper than adapting thousands of parameters one by one.
    """

    def __init__(self, conn: psycopg.Connection[Any], schema: str) -> None:
        self._conn = conn
        self._s = schema

    def _exec(self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> None:
        self._conn.execute(sql, params)

    def processed_ids(self, consumer: str, event_ids: Collection[str]) -> set[str]:
        if not event_ids:
            return set()
        cur = self._conn.execute(
            f"SELECT event_id FROM {self._s}.processed_events "
            "WHERE consumer = %s AND event_id = ANY(%s::text[])",
            (consumer, _text_array(event_ids)),
        )
        return {row[0] for row in cur}

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
        s = self._s
        self._bulk(
            f"INSERT INTO {s}.reservations (order_id, sku, qty, released) "
            "SELECT order_id, sku, qty, released FROM json_to_recordset(%s::json) "
            "AS x(order_id text, sku text, qty int, released bool) "
            "ON CONFLICT (order_id, sku) DO UPDATE SET qty = EXCLUDED.qty, "
            "released = EXCLUDED.released, updated_at = now()",
            [[r.order_id, r.sku, r.qty, r.released] for r in changes.reservations.values()],
            ("order_id", "sku", "qty", "released"),
        )
        deltas = [[k, v] for k, v in changes.stock_delta.items() if v]
        self._bulk(
            f"UPDATE {s}.stock s SET available = s.available - d.delta "
            "FROM json_to_recordset(%s::json) AS d(sku text, delta bigint) WHERE s.sku = d.sku",
            deltas,
            ("sku", "delta"),
        )
        self._bulk(
            f"INSERT INTO {s}.payments (order_id, amount, status, attempts) "
            "SELECT order_id, amount, status, attempts FROM json_to_recordset(%s::json) "
            "AS x(order_id text, amount numeric, status text, attempts int) "
            "ON CONFLICT (order_id) DO UPDATE SET amount = EXCLUDED.amount, "
            "status = EXCLUDED.status, attempts = EXCLUDED.attempts, updated_at = now()",
            [[p.order_id, p.amount, p.status, p.attempts] for p in changes.payments.values()],
            ("order_id", "amount", "status", "attempts"),
        )
        self._bulk(
            f"INSERT INTO {s}.shipments (order_id, carrier, status) "
            "SELECT order_id, carrier, status FROM json_to_recordset(%s::json) "
            "AS x(order_id text, carrier text, status text) "
            "ON CONFLICT (order_id) DO UPDATE SET carrier = EXCLUDED.carrier, "
            "status = EXCLUDED.status, updated_at = now()",
            [[x.order_id, x.carrier, x.status] for x in changes.shipments.values()],
            ("order_id", "carrier", "status"),
        )
        self._bulk(
            f"INSERT INTO {s}.notifications (order_id, template, recipient) "
            "SELECT order_id, template, recipient FROM json_to_recordset(%s::json) "
            "AS x(order_id text, template text, recipient text) ON CONFLICT DO NOTHING",
            [[n.order_id, n.template, n.recipient] for n in changes.notifications.values()],
            ("order_id", "template", "recipient"),
        )
        self._orders(changes)
        self._bulk(
            f"INSERT INTO {s}.outbox (id, aggregatetype, aggregateid, type, payload, "
            "correlation_id, causation_id) SELECT id, aggregatetype, aggregateid, type, payload, "
            "correlation_id, causation_id FROM json_to_recordset(%s::json) AS x(id uuid, "
            "aggregatetype text, aggregateid text, type text, payload jsonb, "
            "correlation_id text, causation_id text) ON CONFLICT (id) DO NOTHING",
            [
                [
                    r.id,
                    r.aggregatetype,
                    r.aggregateid,
                    r.type,
                    r.payload,
                    r.correlation_id,
                    r.causation_id,
                ]
                for r in changes.outbox
            ],
            (
                "id",
                "aggregatetype",
                "aggregateid",
                "type",
                "payload",
                "correlation_id",
                "causation_id",
            ),
        )
        self._bulk(
            f"INSERT INTO {s}.sagas (order_id, state, steps, updated_at) "
            "SELECT order_id, state, steps, updated_at FROM json_to_recordset(%s::json) "
            "AS x(order_id text, state text, steps jsonb, updated_at timestamptz) "
            "ON CONFLICT (order_id) DO UPDATE SET state = EXCLUDED.state, "
            "steps = EXCLUDED.steps, updated_at = EXCLUDED.updated_at",
            [[r.order_id, r.state, list(r.steps), r.updated_at] for r in changes.sagas.values()],
            ("order_id", "state", "steps", "updated_at"),
        )
        self._bulk(
            f"INSERT INTO {s}.analytics_product_minute AS a (minute, sku, orders, quantity, "
            "revenue) SELECT minute, sku, orders, quantity, revenue "
            "FROM json_to_recordset(%s::json) AS x(minute timestamptz, sku text, orders bigint, "
            "quantity bigint, revenue numeric) ON CONFLICT (minute, sku) DO UPDATE SET "
            "orders = a.orders + EXCLUDED.orders, quantity = a.quantity + EXCLUDED.quantity, "
            "revenue = a.revenue + EXCLUDED.revenue",
            [
                [r.minute, r.sku, r.orders, r.quantity, r.revenue]
                for r in changes.analytics.values()
            ],
            ("minute", "sku", "orders", "quantity", "revenue"),
        )

    def _bulk(self, sql: str, rows: list[list[Any]], columns: tuple[str, ...]) -> None:
        """Run ``sql`` with ``rows`` sent as one JSON array of arrays (no keys, no per-row dict)."""
        if rows:
            self._exec(_positional(sql), (_json(rows),))

    def _processed(self, changes: Changes) -> None:
        """Plain inserts: a unique violation means another worker applied one of these events
        first ("already done"), so the whole batch is redone after its claim check."""
        by_consumer: dict[str, list[Any]] = {}
        for row in changes.processed:
            by_consumer.setdefault(row.consumer, []).append(row)
        for consumer, items in by_consumer.items():
            try:
                self._conn.execute(
                    _positional(
                        f"INSERT INTO {self._s}.processed_events (consumer, event_id, event_ts) "
                        "SELECT %s, event_id, event_ts FROM json_to_recordset(%s::json) "
                        "AS x(event_id text, event_ts timestamptz)"
                    ),
                    (consumer, _json([[r.event_id, r.event_ts] for r in items])),
                )
            except psycopg.errors.UniqueViolation as exc:
                raise AlreadyProcessedError(consumer, {r.event_id for r in items}) from exc

    def _orders(self, changes: Changes) -> None:
        self._bulk(
            f"INSERT INTO {self._s}.order_status AS o (order_id, correlation_id, status, "
            "status_rank, total, customer_email, updated_at, finished_at, event_ts) "
            "SELECT order_id, correlation_id, status, status_rank, total, customer_email, "
            "updated_at, finished_at, event_ts FROM json_to_recordset(%s::json) AS x("
            "order_id text, correlation_id text, status text, status_rank smallint, "
            "total numeric, customer_email text, updated_at timestamptz, "
            "finished_at timestamptz, event_ts timestamptz) "
            "ON CONFLICT (order_id) DO UPDATE SET status = EXCLUDED.status, "
            "status_rank = EXCLUDED.status_rank, updated_at = EXCLUDED.updated_at, "
            "finished_at = coalesce(EXCLUDED.finished_at, o.finished_at), "
            "correlation_id = coalesce(nullif(o.correlation_id, ''), EXCLUDED.correlation_id) "
            "WHERE o.status_rank <= EXCLUDED.status_rank",
            [
                [r.order_id, r.correlation_id, r.status, r.rank, r.total, r.customer_email,
                 r.updated_at, r.finished_at, r.event_ts]
                for r in changes.orders.values()
            ],
            ("order_id", "correlation_id", "status", "status_rank", "total", "customer_email",
             "updated_at", "finished_at", "event_ts"),
        )  # fmt: skip

    def add_anomalies(self, counts: Mapping[tuple[str, str], int]) -> None:
        items = [[c, k, n] for (c, k), n in counts.items() if n]
        self._bulk(
            f"INSERT INTO {self._s}.delivery_anomalies AS d (context, kind, count) "
            "SELECT context, kind, count FROM json_to_recordset(%s::json) "
            "AS x(context text, kind text, count bigint) "
            "ON CONFLICT (context, kind) DO UPDATE SET count = d.count + EXCLUDED.count, "
            "last_seen_at = now()",
            items,
            ("context", "kind", "count"),
        )

    def last_sequences(self, context: str, aggregate_ids: Collection[str]) -> dict[str, int]:
        if not aggregate_ids:
            return {}
        cur = self._conn.execute(
            f"SELECT aggregate_id, last_sequence FROM {self._s}.aggregate_sequences "
            "WHERE context = %s AND aggregate_id = ANY(%s::text[])",
            (context, _text_array(aggregate_ids)),
        )
        return {row[0]: int(row[1]) for row in cur}

    def set_sequences(self, context: str, sequences: Mapping[str, int]) -> None:
        self._bulk(
            f"INSERT INTO {self._s}.aggregate_sequences AS a (context, aggregate_id, last_sequence) "
            "SELECT context, aggregate_id, last_sequence FROM json_to_recordset(%s::json) "
            "AS x(context text, aggregate_id text, last_sequence bigint) "
            "ON CONFLICT (context, aggregate_id) DO UPDATE SET "
            "last_sequence = greatest(a.last_sequence, EXCLUDED.last_sequence)",
            [[context, a, q] for a, q in sequences.items()],
            ("context", "aggregate_id", "last_sequence"),
        )

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        with self._conn.transaction():
            yield
