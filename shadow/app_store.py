"""The shadow store of handler apps, on SQLAlchemy Core: PostgreSQL, or SQLite in memory.

Behind the runtime's :class:`~shadow.store.ShadowStore` / :class:`~shadow.store.StoreTx`
ports. The runtime's tables (:mod:`shadow.app_tables`) live in the app's schema on
PostgreSQL (plain names on SQLite); the app's own tables are created from the DDL the app
declares (``ShadowApp.tables``), and its handlers name them unqualified: each PostgreSQL
connection's ``search_path`` is the app's schema, then ``public``. Transactions are
:class:`~shadow.app_store_tx.AppStoreTx`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import orjson
import psycopg
from sqlalchemy import Connection, Engine, create_engine, event, func, select, text, tuple_
from sqlalchemy.pool import StaticPool

from shadow.app_store_tx import AppStoreTx, translate_errors
from shadow.app_tables import RUNTIME_TABLES, RuntimeTables
from shadow.pg import checked_schema


def _json(value: object) -> str:
    """JSON text for the JSON columns (decimals, times and ids as strings)."""
    return orjson.dumps(value, default=str).decode()


class AppStore:
    """The store of one handler app. Build it with :meth:`postgres` or :meth:`sqlite_memory`.

    One connection at a time, used by one worker thread (the runtime's).
    """

    def __init__(self, engine: Engine, schema: str | None, tables: Sequence[str] = ()) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self.schema = schema or ""
        self.tables = RuntimeTables(schema)
        self.app_ddl = tuple(tables)

    @classmethod
    def postgres(cls, dsn: str, schema: str, tables: Sequence[str] = ()) -> AppStore:
        """A store in PostgreSQL at the libpq ``dsn`` (a secret), in ``schema``."""
        s = checked_schema(schema)

        def connect() -> psycopg.Connection[Any]:
            conn = psycopg.connect(dsn)
            conn.execute(f"SET search_path TO {s}, public")
            conn.commit()
            return conn

        engine = create_engine(
            "postgresql+psycopg://",
            creator=connect,
            pool_size=1,
            max_overflow=1,
            pool_pre_ping=True,
            json_serializer=_json,
        )
        return cls(engine, s, tables)

    @classmethod
    def sqlite_memory(cls, tables: Sequence[str] = ()) -> AppStore:
        """A store in an SQLite database in memory (the test harness's); gone when closed."""
        engine = create_engine(
            "sqlite://",
            poolclass=StaticPool,
            connect_args={"check_same_thread": False},
            json_serializer=_json,
        )

        @event.listens_for(engine, "connect")
        def _no_implicit_transactions(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # SQLAlchemy emits BEGIN: savepoints work

        @event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN")

        return cls(engine, None, tables)

    def ensure_schema(self) -> None:
        """Create the runtime's tables and run the app's DDL (idempotent; PostgreSQL under an
        advisory lock, so workers starting together do not race)."""
        with translate_errors(), self.engine.begin() as conn:
            if self.dialect == "postgresql":
                conn.execute(
                    text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
                    {"key": f"cutover.shadow.app.{self.schema}"},
                )
                conn.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {self.schema}")
            self.tables.metadata.create_all(conn)
            if self.dialect == "postgresql":
                for statement in self.tables.upgrades():
                    conn.exec_driver_sql(statement)
            for statement in self.app_ddl:
                conn.exec_driver_sql(statement)

    def encode(self, changes: Any) -> object:
        return changes

    @contextmanager
    def transaction(self) -> Iterator[AppStoreTx]:
        with translate_errors(), self.engine.begin() as conn:
            tx = AppStoreTx(conn, self)
            yield tx
            tx.settle()

    def anomaly_counts(self) -> dict[str, dict[str, int]]:
        table = self.tables.anomalies
        out: dict[str, dict[str, int]] = {}
        with translate_errors(), self.engine.connect() as conn:
            for context, kind, count in conn.execute(
                select(table.c.context, table.c.kind, table.c.count)
            ):
                out.setdefault(context, {})[kind] = int(count)
        return out

    def table_counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        with translate_errors(), self.engine.connect() as conn:
            for name in RUNTIME_TABLES:
                table = self.tables.by_name(name)
                out[name] = int(conn.execute(select(func.count()).select_from(table)).scalar_one())
        return out

    def rebuild_since(self, since: datetime) -> int:
        """Forget the events at or after ``since`` so a replay applies them again: their
        claims, their effects' rows and their follow-up events (a replay emits them again,
        with the same ids). The app's own tables are the app's to rebuild. Returns how many
        events were forgotten."""
        t = self.tables
        forgotten = select(t.processed.c.consumer, t.processed.c.event_id).where(
            t.processed.c.event_ts >= since
        )
        with translate_errors(), self.engine.begin() as conn:
            conn.execute(
                t.effects.delete().where(
                    tuple_(t.effects.c.consumer, t.effects.c.event_id).in_(forgotten)
                )
            )
            conn.execute(
                t.outbox.delete().where(
                    t.outbox.c.causation_id.in_(forgotten.with_only_columns(t.processed.c.event_id))
                )
            )
            result = conn.execute(t.processed.delete().where(t.processed.c.event_ts >= since))
            return int(result.rowcount)

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Rows of a read-only query outside any batch (status, tests)."""
        with self.transaction() as tx:
            return tx.query(sql, params)

    def close(self) -> None:
        self.engine.dispose()
