"""Claim checks of dead letters: the whole original record, kept in the shadow store.

A dead letter whose original is too large for the dead-letter topic goes there with its value
truncated and a ``dlq.claim_check`` header naming a row of ``cutover_dead_letter_payloads``
(in the shadow store's schema), which holds the original key, value and headers untouched.
The runtime writes the row, durably, before it stores the record's offset; ``cutover shadow
dlq show|replay`` read it back with :meth:`DeadLetterPayloads.get`.

:class:`DeadLetterPayloads` is the port; :class:`PgDeadLetterPayloads` keeps the rows in
PostgreSQL (one autocommit connection: a row is committed when ``store`` returns) and
:class:`InMemoryDeadLetterPayloads` is its twin for unit tests
(``tests/unit/shadow/dlq_payloads_contract.py`` holds both to one contract).
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson
import psycopg

from shadow.messages import Headers, RawMessage
from shadow.pg import DEFAULT_SCHEMA, checked_schema, translate_errors
from shadow.store import StoreUnavailableError

TABLE = "cutover_dead_letter_payloads"


def payloads_ddl(schema: str = DEFAULT_SCHEMA) -> str:
    """The DDL of the claim-check table in ``schema`` (idempotent; reviewable as SQL)."""
    s = checked_schema(schema)
    return (
        f"CREATE SCHEMA IF NOT EXISTS {s};\n"
        f"CREATE TABLE IF NOT EXISTS {s}.{TABLE} (\n"
        "    id text PRIMARY KEY,\n"
        "    consumer text NOT NULL,\n"
        "    topic text NOT NULL,\n"
        "    partition int NOT NULL,\n"
        '    "offset" bigint NOT NULL,\n'
        "    key bytea,\n"
        "    value bytea,\n"
        "    headers jsonb NOT NULL,\n"
        "    size int NOT NULL,\n"
        "    stored_at timestamptz NOT NULL DEFAULT now()\n"
        ");"
    )


@dataclass(frozen=True, slots=True)
class DeadLetterPayload:
    """The whole original of a dead letter, and where it was read from.

    ``size`` is the length of the original value in bytes (0 for a tombstone).
    """

    consumer: str
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Headers = ()
    stored_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def id(self) -> str:
        """The claim check: one per consumer and original record (storing again overwrites)."""
        return claim_check_id(self.consumer, self.topic, self.partition, self.offset)

    @property
    def size(self) -> int:
        return len(self.value or b"")

    @classmethod
    def of(cls, consumer: str, original: RawMessage) -> DeadLetterPayload:
        return cls(
            consumer,
            original.topic,
            original.partition,
            original.offset,
            original.key,
            original.value,
            original.headers,
        )


def claim_check_id(consumer: str, topic: str, partition: int, offset: int) -> str:
    """``<consumer>/<topic>:<partition>@<offset>``: readable, and the same for a redelivery."""
    return f"{consumer}/{topic}:{partition}@{offset}"


class DeadLetterPayloads(Protocol):
    """Where the originals of dead letters too large for the dead-letter topic are kept."""

    def ensure_schema(self) -> None:
        """Create the table if needed (idempotent)."""

    def store(self, payload: DeadLetterPayload) -> str:
        """Keep ``payload`` durably (replacing one with the same id); returns its id.

        Raises :class:`~shadow.store.StoreUnavailableError` or
        :class:`~shadow.store.StoreWriteError` when it could not be kept.
        """

    def get(self, claim_check: str) -> DeadLetterPayload | None:
        """The payload kept under ``claim_check``, or None."""

    def delete(self, claim_checks: Collection[str]) -> int:
        """Forget these payloads (``dlq purge``); returns how many were kept."""

    def close(self) -> None:
        """Release connections."""


class InMemoryDeadLetterPayloads:
    """:class:`DeadLetterPayloads` in a dict; ``unavailable`` makes ``store`` fail."""

    def __init__(self) -> None:
        self.rows: dict[str, DeadLetterPayload] = {}
        self.unavailable = False

    def ensure_schema(self) -> None:
        return None

    def store(self, payload: DeadLetterPayload) -> str:
        if self.unavailable:
            raise StoreUnavailableError("InMemory", "claim-check store unavailable")
        self.rows[payload.id] = payload
        return payload.id

    def get(self, claim_check: str) -> DeadLetterPayload | None:
        return self.rows.get(claim_check)

    def delete(self, claim_checks: Collection[str]) -> int:
        return sum(self.rows.pop(c, None) is not None for c in set(claim_checks))

    def close(self) -> None:
        return None


def _headers_json(headers: Headers) -> bytes:
    """Headers as JSON ``[[name, base64 value or null], ...]`` (values are bytes)."""
    return orjson.dumps(
        [[k, None if v is None else base64.b64encode(v).decode()] for k, v in headers]
    )


def _headers_of(doc: Any) -> Headers:
    return tuple((str(k), None if v is None else base64.b64decode(v)) for k, v in doc)


class PgDeadLetterPayloads:
    """:class:`DeadLetterPayloads` in PostgreSQL, table ``<schema>.cutover_dead_letter_payloads``.

    One autocommit connection, opened on first use and opened again after it broke; safe to
    share between threads (a lock serialises its statements).
    """

    def __init__(self, dsn: str, schema: str = DEFAULT_SCHEMA) -> None:
        self._dsn = dsn
        self.schema = checked_schema(schema)
        self._conn: psycopg.Connection[Any] | None = None
        self._lock = threading.Lock()

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        with self._lock, translate_errors():
            if self._conn is None or self._conn.closed:
                self._conn = psycopg.connect(self._dsn, autocommit=True, connect_timeout=5)
            try:
                yield self._conn
            except (psycopg.OperationalError, psycopg.InterfaceError):
                self._conn.close()
                self._conn = None
                raise

    def ensure_schema(self) -> None:
        """Create the table (idempotent) under an advisory lock: ``CREATE TABLE IF NOT EXISTS``
        run by two workers starting together can fail on the catalogue's unique index."""
        with self._connection() as conn, conn.transaction():
            conn.execute(
                "SELECT pg_advisory_xact_lock(hashtext(%s))",
                (f"cutover.shadow.dlq_payloads.{self.schema}",),
            )
            conn.execute(payloads_ddl(self.schema))

    def store(self, payload: DeadLetterPayload) -> str:
        p = payload
        with self._connection() as conn:
            conn.execute(
                f"INSERT INTO {self.schema}.{TABLE} AS t "
                '(id, consumer, topic, partition, "offset", key, value, headers, size, '
                "stored_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s, %s) "
                "ON CONFLICT (id) DO UPDATE SET key = EXCLUDED.key, value = EXCLUDED.value, "
                "headers = EXCLUDED.headers, size = EXCLUDED.size, stored_at = EXCLUDED.stored_at",
                (
                    p.id, p.consumer, p.topic, p.partition, p.offset, p.key, p.value,
                    _headers_json(p.headers).decode(), p.size, p.stored_at,
                ),
            )  # fmt: skip
        return p.id

    def get(self, claim_check: str) -> DeadLetterPayload | None:
        with self._connection() as conn:
            row = conn.execute(
                f'SELECT consumer, topic, partition, "offset", key, value, headers, stored_at '
                f"FROM {self.schema}.{TABLE} WHERE id = %s",
                (claim_check,),
            ).fetchone()
        if row is None:
            return None
        consumer, topic, partition, offset, key, value, headers, stored_at = row
        return DeadLetterPayload(
            consumer, topic, int(partition), int(offset),
            None if key is None else bytes(key), None if value is None else bytes(value),
            _headers_of(headers), stored_at,
        )  # fmt: skip

    def delete(self, claim_checks: Collection[str]) -> int:
        if not claim_checks:
            return 0
        with self._connection() as conn:
            cur = conn.execute(
                f"DELETE FROM {self.schema}.{TABLE} WHERE id = ANY(%s)", (list(claim_checks),)
            )
            return cur.rowcount

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
