"""Writing repair events to the outbox table (I/O), and an in-memory fake.

The table and its column names are the plan's ``outbox:`` block
(:class:`cdc.outbox_table.OutboxLayout`; default: ``public.outbox`` in the Debezium layout).

Aggregate versions: when the outbox has an ``aggregate_version`` column and the
event's aggregate type keeps a version counter (:class:`VersionedAggregate`, given by the
caller: ``cutover repair --versioned-aggregate TYPE=TABLE``; none by default), the writer
does what the application does. In the
transaction that inserts the event it bumps the counter
(``UPDATE ... SET version = version + 1 ... RETURNING version``: the row lock makes
the application and the repair hand out each version once) and writes the new
version in the row. The repair event is then the next event in the aggregate's
history, after the ones the application wrote, and consumers check it like any
other. An event already in the outbox (the same repair run again) advances
nothing. In any other case (an outbox without the column, an aggregate type
without a counter, an aggregate without a row) the event is written unversioned
(the column's ``0``), and consumers do not check it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Protocol

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow

from cdc.outbox_table import OutboxLayout
from comparators.repair import OutboxEvent
from comparators.sources import libpq_url, translate_errors

_ROLES = (
    "id",
    "aggregate_type",
    "aggregate_id",
    "event_type",
    "payload",
    "correlation_id",
    "causation_id",
)
"""The column roles a repair event fills (``cdc.outbox_table.OutboxColumns``), in the order of
:func:`_params`; the table's own names come from the plan's ``outbox:`` block."""


@dataclass(frozen=True, slots=True)
class VersionedAggregate:
    """Where an aggregate type keeps its version: ``table.version_column`` of the row whose
    ``key_column`` is the event's ``aggregateid``."""

    table: str
    key_column: str = "id"
    version_column: str = "version"


NO_VERSIONED_AGGREGATES: Mapping[str, VersionedAggregate] = MappingProxyType({})
"""No aggregate type keeps a counter: every repair event is written unversioned."""


def parse_versioned(specs: Sequence[str]) -> dict[str, VersionedAggregate]:
    """``TYPE=TABLE[.KEY_COLUMN[.VERSION_COLUMN]]`` per aggregate type with a version counter
    (``order=orders``: ``orders.version`` of the row whose ``id`` is the aggregate id); a
    schema-qualified table is ``TYPE=schema.table`` only with both columns named."""
    out: dict[str, VersionedAggregate] = {}
    for spec in specs:
        kind, sep, where = spec.partition("=")
        parts = where.split(".")
        if not (sep and kind and where and all(parts)) or len(parts) > 4:
            raise ValueError(f"{spec!r}: expected TYPE=TABLE[.KEY_COLUMN[.VERSION_COLUMN]]")
        if len(parts) == 4:
            table, key, version = f"{parts[0]}.{parts[1]}", parts[2], parts[3]
            out[kind] = VersionedAggregate(table, key, version)
        else:
            out[kind] = VersionedAggregate(*parts[:1], *parts[1:])
    return out


class OutboxWriter(Protocol):
    """Port: append events to an outbox (versioned as above); returns how many rows were new."""

    def write(self, events: Sequence[OutboxEvent]) -> int: ...


class InMemoryOutbox:
    """Events kept in a dict by id (idempotent like the real table).

    ``versions`` holds the current version of each versioned aggregate, by
    ``(aggregatetype, aggregateid)``: a new event of one of them advances it and
    takes the new version; any other event is unversioned (``0``).
    ``aggregate_versions`` is the version written with each event id.
    """

    def __init__(self, versions: Mapping[tuple[str, str], int] | None = None) -> None:
        self.rows: dict[str, OutboxEvent] = {}
        self.versions: dict[tuple[str, str], int] = dict(versions or {})
        self.aggregate_versions: dict[str, int] = {}

    def write(self, events: Sequence[OutboxEvent]) -> int:
        written = 0
        for event in events:
            if str(event.id) in self.rows:
                continue
            aggregate = (event.aggregatetype, event.aggregateid)
            version = 0
            if aggregate in self.versions:
                version = self.versions[aggregate] = self.versions[aggregate] + 1
            self.rows[str(event.id)] = event
            self.aggregate_versions[str(event.id)] = version
            written += 1
        return written


class PostgresOutbox:
    """Inserts into the outbox table in one transaction; an id already there is skipped.

    ``layout`` is the table and its column names (the plan's ``outbox:`` block; default:
    the Debezium layout in ``public.outbox``); a role the layout has no column for
    (``null`` in the block) is not written, and the mode column is left NULL (a repair is
    written by no application mode). ``versioned`` names the aggregate types with a
    version counter (default: none); their events are numbered as the module
    docstring says.
    """

    def __init__(
        self,
        conninfo: str,
        layout: OutboxLayout | None = None,
        versioned: Mapping[str, VersionedAggregate] = NO_VERSIONED_AGGREGATES,
    ) -> None:
        self._conninfo = libpq_url(conninfo)
        self.layout = layout or OutboxLayout()
        self.table = self.layout.table
        self.versioned = versioned

    def write(self, events: Sequence[OutboxEvent]) -> int:
        written = 0
        # aggregates locked in one order, so two repairs cannot deadlock each other
        ordered = sorted(events, key=lambda e: (e.aggregatetype, e.aggregateid))
        with (
            translate_errors("outbox"),
            psycopg.connect(self._conninfo) as conn,
            conn.transaction(),
            conn.cursor() as cur,
        ):
            counters = self._counters(cur, {e.aggregatetype for e in events})
            inserts = {versioned: self._insert(versioned) for versioned in (False, True)}
            for event in ordered:
                with conn.transaction():  # a savepoint: a row already there takes back its bump
                    version = _advance(cur, counters.get(event.aggregatetype), event.aggregateid)
                    cur.execute(inserts[version is not None], _params(self.layout, event, version))
                    if cur.rowcount == 0:
                        raise psycopg.Rollback
                    written += 1
        return written

    def _counters(
        self, cur: psycopg.Cursor[TupleRow], types: set[str]
    ) -> dict[str, VersionedAggregate]:
        """The versioned aggregate types among ``types`` whose counters exist, if the
        outbox has the version column (else none)."""
        column = self.layout.columns.aggregate_version
        if column is None or not _has_column(cur, self.table, column):
            return {}
        wanted = {t: self.versioned[t] for t in sorted(types) if t in self.versioned}
        return {t: v for t, v in wanted.items() if _has_column(cur, v.table, v.version_column)}

    def _insert(self, versioned: bool) -> sql.Composed:
        return insert_statement(self.layout, versioned=versioned)


def written_roles(layout: OutboxLayout, *, versioned: bool) -> tuple[str, ...]:
    """The roles a repair event writes into ``layout``'s table (those it has a column for)."""
    roles = (*_ROLES, "aggregate_version") if versioned else _ROLES
    return tuple(r for r in roles if getattr(layout.columns, r) is not None)


def insert_statement(layout: OutboxLayout, *, versioned: bool) -> sql.Composed:
    """``INSERT ... ON CONFLICT (<id>) DO NOTHING`` into ``layout``'s table, the columns
    named as the layout names them, parameters in :func:`written_roles` order."""
    roles = written_roles(layout, versioned=versioned)
    columns = [getattr(layout.columns, r) for r in roles]
    return sql.SQL("INSERT INTO {} ({}) VALUES ({}) ON CONFLICT ({}) DO NOTHING").format(
        _table(layout.table),
        sql.SQL(", ").join(map(sql.Identifier, columns)),
        sql.SQL(", ").join(sql.SQL("%s::jsonb" if r == "payload" else "%s") for r in roles),
        sql.Identifier(layout.columns.id),
    )


def _table(name: str) -> sql.Identifier:
    return sql.Identifier(*name.split("."))


def _has_column(cur: psycopg.Cursor[TupleRow], table: str, column: str) -> bool:
    cur.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass(%s)"
        " AND attname = %s AND attnum > 0 AND NOT attisdropped)",
        (_table(table).as_string(cur), column),
    )
    row = cur.fetchone()
    return bool(row and row[0])


def _advance(
    cur: psycopg.Cursor[TupleRow], counter: VersionedAggregate | None, key: str
) -> int | None:
    """Bump the aggregate's version (taking its row lock); the new one, None if unversioned."""
    if counter is None:
        return None
    version = sql.Identifier(counter.version_column)
    cur.execute(
        sql.SQL("UPDATE {} SET {} = {} + 1 WHERE {} = %s RETURNING {}").format(
            _table(counter.table), version, version, sql.Identifier(counter.key_column), version
        ),
        (key,),
    )
    row = cur.fetchone()
    return None if row is None else int(row[0])


def _params(layout: OutboxLayout, event: OutboxEvent, version: int | None) -> tuple[object, ...]:
    values: dict[str, object] = {
        "id": event.id,
        "aggregate_type": event.aggregatetype,
        "aggregate_id": event.aggregateid,
        "event_type": event.type,
        "payload": json.dumps(event.payload, default=str),
        "correlation_id": event.correlation_id,
        "causation_id": event.causation_id,
        "aggregate_version": version,
    }
    return tuple(values[r] for r in written_roles(layout, versioned=version is not None))
