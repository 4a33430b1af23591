"""Writing repair events to the ``outbox`` table (I/O), and an in-memory fake."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Protocol

import psycopg

from comparators.repair import OutboxEvent
from comparators.sources import libpq_url, translate_errors


class OutboxWriter(Protocol):
    """Port: append events to an outbox; returns how many rows were new."""

    def write(self, events: Sequence[OutboxEvent]) -> int: ...


class InMemoryOutbox:
    """Events kept in a dict by id (idempotent like the real table)."""

    def __init__(self) -> None:
        self.rows: dict[str, OutboxEvent] = {}

    def write(self, events: Sequence[OutboxEvent]) -> int:
        new = [e for e in events if str(e.id) not in self.rows]
        for event in new:
            self.rows[str(event.id)] = event
        return len(new)


class PostgresOutbox:
    """Inserts into ``outbox`` in one transaction; an id already there is skipped."""

    def __init__(self, conninfo: str, table: str = "outbox") -> None:
        self._conninfo = libpq_url(conninfo)
        self.table = table

    def write(self, events: Sequence[OutboxEvent]) -> int:
        sql = (
            f"INSERT INTO {self.table} (id, aggregatetype, aggregateid, type, payload, "
            "correlation_id, causation_id) VALUES (%s, %s, %s, %s, %s::jsonb, %s, %s) "
            "ON CONFLICT (id) DO NOTHING"
        )
        written = 0
        with (
            translate_errors("outbox"),
            psycopg.connect(self._conninfo) as conn,
            conn.cursor() as cur,
        ):
            for e in events:
                cur.execute(
                    sql,
                    (
                        e.id,
                        e.aggregatetype,
                        e.aggregateid,
                        e.type,
                        json.dumps(e.payload, default=str),
                        e.correlation_id,
                        e.causation_id,
                    ),
                )
                written += cur.rowcount
        return written
