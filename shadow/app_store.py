"""The shadow store of handler apps, on SQLAlchemy Core: PostgreSQL, or SQLite in memory.

Behind the runtime's :class:`~shadow.store.ShadowStore` / :class:`~shadow.store.StoreTx`
ports. The runtime's tables (:mod:`shadow.app_tables`) live in the app's schema on
PostgreSQL (plain names on SQLite); the app's own tables are created from the DDL the app
declares (``ShadowApp.tables``), and its handlers name them unqualified: each PostgreSQL
connection's ``search_path`` is the app's schema, then ``public``.

A batch's buffer (:class:`~shadow.app_buffer.AppBuffer`) is written in this order: the
processed-event claims (a unique violation means another worker applied one of them first:
:class:`~shadow.store.AlreadyProcessedError`), the statements queued with ``Handle.write``
(one ``executemany`` per SQL text), the effects, the outbox rows. Driver errors become
:class:`~shadow.store.StoreWriteError` (refused: constraint, data, SQL) or
:class:`~shadow.store.StoreUnavailableError` (connection) in :func:`translate_errors`.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import orjson
import psycopg
from sqlalchemy import (
    Connection,
    Engine,
    NestedTransaction,
    TextClause,
    create_engine,
    event,
    func,
    select,
    text,
    tuple_,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.pool import StaticPool

from shadow.app_buffer import AppBuffer
from shadow.app_tables import RUNTIME_TABLES, RuntimeTables
from shadow.pg import checked_schema
from shadow.store import AlreadyProcessedError, StoreUnavailableError, StoreWriteError

_CHUNK = 500  # ids per IN (...) on SQLite


def _json(value: object) -> str:
    """JSON text for the JSON columns (decimals, times and ids as strings)."""
    return orjson.dumps(value, default=str).decode()


@functools.lru_cache(maxsize=2048)
def _text(sql: str) -> TextClause:
    """A handler's statement, compiled once per text."""
    return text(sql)


def text_array(values: Collection[str]) -> str:
    """A PostgreSQL array literal of ``values`` (quoted, escaped): adapts thousands of ids at
    C speed where a list parameter is dumped item by item."""
    return (
        "{"
        + ",".join('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values)
        + "}"
    )


@functools.lru_cache(maxsize=16384)
def _iso(value: datetime) -> str:
    """A time as ISO text (a batch repeats its record times)."""
    return value.isoformat()


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _unavailable(exc: sa_exc.DBAPIError) -> bool:
    """Whether a driver error means the connection (not the statement) failed."""
    if exc.connection_invalidated:
        return True
    orig = exc.orig
    if isinstance(orig, psycopg.OperationalError | psycopg.InterfaceError):
        return True
    return isinstance(orig, sqlite3.OperationalError) and (
        "locked" in str(orig) or "busy" in str(orig)
    )


@contextmanager
def translate_errors() -> Iterator[None]:
    """Map SQLAlchemy/driver exceptions onto the store's two errors (transient or not)."""
    try:
        yield
    except sa_exc.DBAPIError as exc:
        cause = type(exc.orig).__name__ if exc.orig is not None else type(exc).__name__
        message = _first_line(exc.orig if exc.orig is not None else exc)
        if _unavailable(exc):
            raise StoreUnavailableError(cause, message) from exc
        raise StoreWriteError(cause, message) from exc
    except sa_exc.SQLAlchemyError as exc:  # e.g. a missing bind parameter
        raise StoreWriteError(type(exc).__name__, _first_line(exc)) from exc


class AppStoreTx:
    """One open transaction of an :class:`AppStore` (a SQLAlchemy connection in a transaction)."""

    def __init__(self, conn: Connection, store: AppStore) -> None:
        self.connection = conn
        self._store = store
        self._t = store.tables
        self._pg = store.dialect == "postgresql"
        self._held: NestedTransaction | None = None
        self._refused = False
        self._depth = 0

    # ------------------------------------------------------------ handlers' statements
    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> int:
        """Run one statement now; the rows it affected."""
        with translate_errors():
            result = self.connection.execute(_text(sql), dict(params or {}))
            return int(result.rowcount)

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """The rows of a query, as dicts."""
        with translate_errors():
            result = self.connection.execute(_text(sql), dict(params or {}))
            return [dict(row) for row in result.mappings()]

    # --------------------------------------------------------------- the runtime's port
    def processed_ids(self, consumer: str, event_ids: Collection[str]) -> set[str]:
        self.settle()
        ids = list(event_ids)
        if not ids:
            return set()
        table = self._t.processed
        found: set[str] = set()
        with translate_errors():
            if self._pg:  # one index probe per id: ANY(...) reads the consumer's whole range
                rows = self.connection.execute(
                    _text(
                        "SELECT x.id FROM unnest(CAST(:ids AS text[])) AS x(id) "
                        f"WHERE EXISTS (SELECT 1 FROM {self._t.name('processed_events')} t "
                        "WHERE t.consumer = :consumer AND t.event_id = x.id)"
                    ),
                    {"consumer": consumer, "ids": text_array(ids)},
                )
                return {r[0] for r in rows}
            for start in range(0, len(ids), _CHUNK):
                query = select(table.c.event_id).where(
                    table.c.consumer == consumer,
                    table.c.event_id.in_(ids[start : start + _CHUNK]),
                )
                found.update(r[0] for r in self.connection.execute(query))
        return found

    def apply(self, changes: AppBuffer) -> None:
        """Write ``changes``: claims first, then queued statements, effects, outbox rows."""
        if self._depth == 0:  # else the runtime writes one event's buffer: see hold()
            self.settle()
        self._claim(changes)
        t = self._t
        with translate_errors():
            for sql, params in changes.grouped_writes():
                self.connection.execute(_text(sql), params if len(params) > 1 else params[0])
            if changes.effects:
                rows = [
                    {
                        "consumer": e.consumer, "event_id": e.event_id, "name": e.name,
                        "mode": e.mode, "outcome": e.outcome, "request": e.request,
                        "result": e.result, "at": e.at,
                    }
                    for e in changes.effects
                ]  # fmt: skip
                self.connection.execute(t.effects.insert(), rows)
            if changes.outbox:
                rows = [
                    {
                        "id": o.id, "aggregatetype": o.aggregate_type,
                        "aggregateid": o.aggregate_id, "type": o.event_type,
                        "payload": o.payload, "correlation_id": o.correlation_id,
                        "causation_id": o.causation_id, "aggregate_version": 0,
                        "mode": o.mode, "created_at": o.created_at,
                    }
                    for o in changes.outbox
                ]  # fmt: skip
                self.connection.execute(t.outbox.insert(), rows)

    def _claim(self, changes: AppBuffer) -> None:
        if not changes.processed:
            return
        try:
            with translate_errors():
                if self._pg:  # one statement for the batch's claims
                    self.connection.execute(
                        _text(
                            f"INSERT INTO {self._t.name('processed_events')} "
                            "(consumer, event_id, event_ts) SELECT x.c, x.e, x.t FROM unnest("
                            "CAST(:c AS text[]), CAST(:e AS text[]), CAST(:t AS timestamptz[])"
                            ") AS x(c, e, t)"
                        ),
                        {
                            "c": text_array([r.consumer for r in changes.processed]),
                            "e": text_array([r.event_id for r in changes.processed]),
                            "t": text_array([_iso(r.event_ts) for r in changes.processed]),
                        },
                    )
                else:
                    rows = [
                        {"consumer": r.consumer, "event_id": r.event_id, "event_ts": r.event_ts}
                        for r in changes.processed
                    ]
                    self.connection.execute(self._t.processed.insert(), rows)
        except StoreWriteError as exc:
            if "Unique" not in exc.cause and "Integrity" not in exc.cause:
                raise
            raise AlreadyProcessedError(
                changes.processed[0].consumer, [r.event_id for r in changes.processed]
            ) from exc

    def apply_encoded(self, encoded: object) -> None:
        assert isinstance(encoded, AppBuffer)
        self.apply(encoded)

    def add_anomalies(self, counts: Mapping[tuple[str, str], int]) -> None:
        self.settle()
        if not counts:
            return
        table = self._t.name("delivery_anomalies")
        with translate_errors():
            self.connection.execute(
                _text(
                    f"INSERT INTO {table} AS d (context, kind, count) "
                    "VALUES (:context, :kind, :n) ON CONFLICT (context, kind) DO UPDATE "
                    "SET count = d.count + EXCLUDED.count, last_seen_at = CURRENT_TIMESTAMP"
                ),
                [{"context": c, "kind": k, "n": n} for (c, k), n in counts.items()],
            )

    def last_sequences(
        self, consumer: str, context: str, aggregate_ids: Collection[str]
    ) -> dict[str, int]:
        self.settle()
        ids = list(aggregate_ids)
        table = self._t.sequences
        out: dict[str, int] = {}
        with translate_errors():
            for start in range(0, len(ids), _CHUNK):
                query = select(table.c.aggregate_id, table.c.last_sequence).where(
                    table.c.consumer == consumer,
                    table.c.context == context,
                    table.c.aggregate_id.in_(ids[start : start + _CHUNK]),
                )
                out.update((a, int(q)) for a, q in self.connection.execute(query))
        return out

    def set_sequences(self, consumer: str, context: str, sequences: Mapping[str, int]) -> None:
        self.settle()
        if not sequences:
            return
        greatest = "greatest" if self._pg else "max"
        with translate_errors():
            self.connection.execute(
                _text(
                    f"INSERT INTO {self._t.name('aggregate_sequences')} AS a "
                    "(consumer, context, aggregate_id, last_sequence) "
                    "VALUES (:consumer, :context, :aggregate_id, :seq) "
                    "ON CONFLICT (consumer, context, aggregate_id) DO UPDATE SET "
                    f"last_sequence = {greatest}(a.last_sequence, EXCLUDED.last_sequence)"
                ),
                [
                    {"consumer": consumer, "context": context, "aggregate_id": a, "seq": q}
                    for a, q in sequences.items()
                ],
            )

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """A nested transaction (the runtime writes one event's buffer in it when it redoes a
        refused batch event by event; see :meth:`hold`)."""
        self._depth += 1
        try:
            with translate_errors():
                nested = self.connection.begin_nested()
            try:
                yield
            except BaseException:
                self._refused = True
                with translate_errors():
                    nested.rollback()
                raise
            self._refused = False
            with translate_errors():
                nested.commit()
        finally:
            self._depth -= 1

    # ------------------------------------------- the statements of the last handler run
    def hold(self, nested: NestedTransaction) -> None:
        """Keep the savepoint of a handler that succeeded open until its buffer's fate is
        known: when the runtime redoes a batch event by event, it writes each event's buffer
        (:meth:`savepoint`) right after its handler ran, and an event whose buffer is always
        refused is dead-lettered — then :meth:`settle` rolls back what its handler executed
        too. Otherwise the next handler, the batch's write or the commit releases it."""
        self.settle()
        self._held = nested
        self._refused = False

    def settle(self) -> None:
        """Release the held savepoint, or roll it back if its event's buffer was refused."""
        held, self._held = self._held, None
        refused, self._refused = self._refused, False
        if held is None or not held.is_active:
            return
        with translate_errors():
            if refused:
                held.rollback()
            else:
                held.commit()


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
