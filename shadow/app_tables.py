"""The runtime's tables in a handler app's store (SQLAlchemy Core; PostgreSQL and SQLite).

* ``processed_events`` — the idempotency claims (consumer + event id), as the runtime has
  always kept them;
* ``delivery_anomalies`` — counters per (context, kind): tombstones, snapshots, gaps, ...;
* ``aggregate_sequences`` — the highest aggregate version each consumer has seen;
* ``effects`` — one row per external effect of an event: recorded (``dual``), performed or
  rejected (``async``, ``events-only``), with its request and result;
* ``outbox`` — follow-up events, in the app SDK's outbox layout
  (:class:`cdc.outbox_table.OutboxColumns`: the Outbox Event Router's columns plus
  ``correlation_id``, ``causation_id``, ``aggregate_version``, ``mode``, ``created_at``), so
  the shadow outbox's connector is built like the application's.

Keys use the "C" collation on PostgreSQL (bytes compared, no locale calls).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeEngine

from shadow.pg import checked_schema

RUNTIME_TABLES: tuple[str, ...] = (
    "processed_events",
    "delivery_anomalies",
    "aggregate_sequences",
    "effects",
    "outbox",
)


def _key(length: int) -> TypeEngine[str]:
    return String(length).with_variant(String(length, collation="C"), "postgresql")


def _json() -> TypeEngine[Any]:
    return JSON().with_variant(JSONB(), "postgresql")


def _at() -> DateTime:
    return DateTime(timezone=True)


class RuntimeTables:
    """The runtime's tables in ``schema`` (``None``: unqualified, as on SQLite)."""

    def __init__(self, schema: str | None) -> None:
        self.schema = checked_schema(schema) if schema else None
        self.metadata = m = MetaData(schema=self.schema)
        self.processed = Table(
            "processed_events", m,
            Column("consumer", _key(100), nullable=False),
            Column("event_id", _key(255), nullable=False),
            Column("event_ts", _at(), nullable=False),
            Column("processed_at", _at(), nullable=False, server_default=func.now()),
            PrimaryKeyConstraint("consumer", "event_id"),
        )  # fmt: skip
        self.anomalies = Table(
            "delivery_anomalies", m,
            Column("context", String(100), nullable=False),
            Column("kind", String(40), nullable=False),
            Column("count", BigInteger, nullable=False),
            Column("last_seen_at", _at(), nullable=False, server_default=func.now()),
            PrimaryKeyConstraint("context", "kind"),
        )  # fmt: skip
        self.sequences = Table(
            "aggregate_sequences", m,
            Column("consumer", _key(100), nullable=False),
            Column("context", _key(100), nullable=False),
            Column("aggregate_id", _key(255), nullable=False),
            Column("last_sequence", BigInteger, nullable=False),
            PrimaryKeyConstraint("consumer", "context", "aggregate_id"),
        )  # fmt: skip
        self.effects = Table(
            "effects", m,
            Column("consumer", _key(100), nullable=False),
            Column("event_id", _key(255), nullable=False),
            Column("name", _key(100), nullable=False),
            Column("mode", String(20), nullable=False),
            Column("outcome", String(20), nullable=False),
            Column("request", _json(), nullable=False),
            Column("result", _json()),
            Column("at", _at(), nullable=False),
            PrimaryKeyConstraint("consumer", "event_id", "name"),
        )  # fmt: skip
        self.outbox = Table(
            "outbox", m,
            Column("id", Uuid(), primary_key=True),
            Column("aggregatetype", String(255), nullable=False),
            Column("aggregateid", String(255), nullable=False),
            Column("type", String(255), nullable=False),
            Column("payload", _json(), nullable=False),
            Column("correlation_id", String(255)),
            Column("causation_id", String(255)),
            Column("aggregate_version", Integer, nullable=False, server_default=text("0")),
            Column("mode", String(20)),
            Column("created_at", _at(), nullable=False, server_default=func.now()),
        )  # fmt: skip

    def name(self, table: str) -> str:
        """``table`` qualified by the schema, as SQL text."""
        return f"{self.schema}.{table}" if self.schema else table

    def by_name(self, table: str) -> Table:
        return self.metadata.tables[self.name(table)]

    def upgrades(self) -> list[str]:
        """PostgreSQL: columns an outbox made before the app SDK's layout lacks."""
        outbox = self.name("outbox")
        return [
            f"ALTER TABLE {outbox} ADD COLUMN IF NOT EXISTS "
            "aggregate_version integer NOT NULL DEFAULT 0",
            f"ALTER TABLE {outbox} ADD COLUMN IF NOT EXISTS mode varchar(20)",
        ]
