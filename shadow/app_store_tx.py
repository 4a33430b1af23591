"""A transaction of the handler apps' store (:mod:`shadow.app_store`), and its error mapping.

A batch's buffer (:class:`~shadow.app_buffer.AppBuffer`) is written in this order: the
processed-event claims (a unique violation means another worker applied one of them first:
:class:`~shadow.store.AlreadyProcessedError`), the statements queued with ``Handle.write``
(one ``executemany`` per SQL text), the effects, the outbox rows. On PostgreSQL the claims
go as one statement over arrays, and the claim check probes the index once per id.

A handler's own statements (``Handle.execute``) run inside a savepoint opened at its first
statement (:meth:`AppStoreTx.begin_handler`), rolled back if it fails, else *held* until its
event's buffer is known to be written (:meth:`AppStoreTx.end_handler`, :meth:`settle`).

Driver errors become :class:`~shadow.store.StoreWriteError` (refused: constraint, data,
SQL) or :class:`~shadow.store.StoreUnavailableError` (connection) in
:func:`translate_errors`.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

import psycopg
from sqlalchemy import Connection, TextClause, select, text
from sqlalchemy import exc as sa_exc

from shadow.app_buffer import AppBuffer
from shadow.store import AlreadyProcessedError, StoreUnavailableError, StoreWriteError

if TYPE_CHECKING:
    from shadow.app_store import AppStore

_CHUNK = 500  # ids per IN (...) on SQLite
HANDLER_SAVEPOINT = "cutover_handler"


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
        self._held = False  # a handler's savepoint, kept open (see end_handler)
        self._refused = False  # the runtime's write of the held event's buffer failed
        self._stale = False  # the held savepoint is an earlier event's: settle it first
        self._depth = 0  # runtime savepoints open

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
        if self._depth == 0:  # else the runtime writes one event's buffer: see end_handler()
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
        """A nested transaction: the runtime writes one event's buffer in one when it redoes
        a refused batch event by event; a failure marks the held handler savepoint refused."""
        if self._stale:
            self.settle()
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

    # -------------------------------------------------- the savepoint of a handler run
    def next_event(self) -> None:
        """A handler is about to run for the next event: what the previous one holds is
        settled at the next statement (with it, in one round trip, when it opens a savepoint)."""
        self._stale = True

    def begin_handler(self) -> None:
        """Open the running handler's savepoint (its first ``execute``/``query``)."""
        self._run([*self._settle_sql(), f"SAVEPOINT {HANDLER_SAVEPOINT}"])

    def end_handler(self, *, ok: bool) -> None:
        """The handler that opened a savepoint returned (``ok``) or failed.

        A failed one's statements are rolled back now. A successful one's are *held*: when
        the runtime redoes a batch event by event it writes each event's buffer right after
        its handler (:meth:`savepoint`), and an event whose buffer is always refused is
        dead-lettered — then what its handler executed is rolled back too. Otherwise the
        next handler's savepoint, the batch's write or the commit releases it.
        """
        if ok:
            self._held, self._refused, self._stale = True, False, False
        else:
            sp = HANDLER_SAVEPOINT
            self._run([f"ROLLBACK TO SAVEPOINT {sp}", f"RELEASE SAVEPOINT {sp}"])

    def settle(self) -> None:
        """Release the held handler savepoint, or roll it back if its buffer was refused."""
        self._run(self._settle_sql())

    def _settle_sql(self) -> list[str]:
        if not self._held:
            return []
        refused = self._refused
        self._held = self._refused = self._stale = False
        release = f"RELEASE SAVEPOINT {HANDLER_SAVEPOINT}"
        return [f"ROLLBACK TO SAVEPOINT {HANDLER_SAVEPOINT}", release] if refused else [release]

    def _run(self, statements: list[str]) -> None:
        if not statements:
            return
        with translate_errors():
            if self._pg:  # no parameters: one round trip for them all
                self.connection.exec_driver_sql("; ".join(statements))
            else:
                for statement in statements:
                    self.connection.exec_driver_sql(statement)
