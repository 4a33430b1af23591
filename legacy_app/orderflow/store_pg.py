"""PostgreSQL adapter of the shadow store (psycopg 3): schema, transactions, read side.

The writes of a transaction live in :mod:`legacy_app.orderflow.store_pg_tx`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from cutover.shadow import StoreUnavailableError, translate_errors
from legacy_app.orderflow.changes import Changes
from legacy_app.orderflow.outcomes import outcome_sql
from legacy_app.orderflow.schema import DEFAULT_SCHEMA, TABLES, checked_schema, ddl
from legacy_app.orderflow.store import sorted_outcomes
from legacy_app.orderflow.store_pg_tx import PgStoreTx, encode_changes
from legacy_app.outcome import Outcome


class PostgresStore:
    """The shadow store in PostgreSQL; one connection, used by one worker thread."""

    def __init__(self, dsn: str, schema: str = DEFAULT_SCHEMA) -> None:
        self.schema = checked_schema(schema)
        self._dsn = dsn
        self._conn: psycopg.Connection[Any] | None = None

    @property
    def conn(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self._dsn, autocommit=True)
        return self._conn

    def ensure_schema(self, stock: Mapping[str, int] | None = None) -> None:
        with self.conn.transaction():
            self.conn.execute("SELECT pg_advisory_xact_lock(hashtext('cutover.shadow.schema'))")
            for statement in ddl(self.schema):
                self.conn.execute(statement)
            if stock:
                self.conn.execute(
                    f"INSERT INTO {self.schema}.stock (sku, available) "
                    "SELECT * FROM unnest(%s::text[], %s::bigint[]) ON CONFLICT DO NOTHING",
                    (list(stock), list(stock.values())),
                )

    def encode(self, changes: Changes) -> object:
        return encode_changes(changes)

    @contextmanager
    def transaction(self) -> Iterator[PgStoreTx]:
        try:
            with translate_errors(), self.conn.transaction():
                yield PgStoreTx(self.conn, self.schema)
        except StoreUnavailableError:
            self.reset()
            raise

    def reset(self) -> None:
        """Drop the connection (after a connection-level failure); the next use reconnects."""
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

    def outcomes(self, order_ids: Sequence[str] | None = None) -> list[Outcome]:
        with self.conn.cursor(row_factory=dict_row) as cur:
            cur.execute(
                outcome_sql(self.schema),
                {"order_ids": list(order_ids) if order_ids is not None else None},
            )
            return sorted_outcomes(iter(cur.fetchall()))

    def anomaly_counts(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        cur = self.conn.execute(
            f"SELECT context, kind, count FROM {self.schema}.delivery_anomalies"
        )
        for context, kind, count in cur:
            out.setdefault(context, {})[kind] = int(count)
        return out

    def table_counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for table in TABLES:
            row = self.conn.execute(f"SELECT count(*) FROM {self.schema}.{table}").fetchone()
            out[table] = int(row[0]) if row else 0
        return out

    def rebuild_since(self, since: datetime) -> int:
        s = self.schema
        with self.conn.transaction():
            cur = self.conn.execute(
                f"DELETE FROM {s}.order_status WHERE event_ts >= %s RETURNING order_id",
                (since,),
            )
            orders = [row[0] for row in cur]
            restock = self.conn.execute(
                f"SELECT sku, sum(qty) FROM {s}.reservations "
                "WHERE order_id = ANY(%s::text[]) AND NOT released GROUP BY sku",
                (orders,),
            ).fetchall()
            for sku, qty in restock:
                self.conn.execute(
                    f"UPDATE {s}.stock SET available = available + %s WHERE sku = %s",
                    (int(qty), sku),
                )
            for table in ("reservations", "payments", "shipments", "notifications", "sagas"):
                self.conn.execute(
                    f"DELETE FROM {s}.{table} WHERE order_id = ANY(%s::text[])",
                    (orders,),
                )
            self.conn.execute(
                f"DELETE FROM {s}.outbox WHERE aggregateid = ANY(%s::text[])",
                (orders,),
            )
            self.conn.execute(
                f"DELETE FROM {s}.processed_events WHERE event_ts >= %s",
                (since,),
            )
            self.conn.execute(
                f"DELETE FROM {s}.analytics_product_minute "
                "WHERE minute >= date_trunc('minute', %s::timestamptz)",
                (since,),
            )
        return len(orders)

    def close(self) -> None:
        self.reset()
