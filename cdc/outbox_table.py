"""The outbox table's layout: its name, its columns, its DDL and the connector options for it.

:class:`OutboxLayout` is the one description of a team's outbox table (the plan's
``outbox:`` block becomes one). From it come

* :func:`create_table_ddl` — the Postgres DDL (``CREATE TABLE IF NOT EXISTS`` and the
  aggregate-version index), reviewable text, nothing runs;
* :func:`column_conflicts` — what an existing table lacks, compared with the layout
  (``cutover outbox init`` adopts a table that has no conflict and alters none);
* :meth:`OutboxLayout.connector_options` — :class:`~cdc.debezium.OutboxOptions` for the
  Outbox Event Router, whose Kafka headers keep cutover's names (:data:`HEADERS`)
  whatever the columns are called (``column:header:alias`` placement).

The default layout is the Debezium Outbox Event Router's (``id``, ``aggregatetype``,
``aggregateid``, ``type``, ``payload``) plus ``correlation_id``, ``causation_id``,
``aggregate_version`` (``0`` = order not checked), ``mode`` (the context's migration mode
when the row was written) and ``created_at``. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields

from cdc.debezium import OutboxOptions

DEFAULT_TABLE = "public.outbox"

IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
"""A column, schema or table name the layout accepts: lower case, unquoted Postgres style."""

TABLE_NAME = re.compile(r"^([a-z_][a-z0-9_]{0,62}\.)?[a-z_][a-z0-9_]{0,62}$")

HEADERS: Mapping[str, str] = {
    "event_type": "type",
    "correlation_id": "correlation_id",
    "causation_id": "causation_id",
    "aggregate_version": "aggregate_version",
    "mode": "mode",
}
"""Column role -> the Kafka header it travels as (cutover's names, read by the shadow workers).

The event id travels as the router's own ``id`` header.
"""

OPTIONAL_ROLES = ("correlation_id", "causation_id", "aggregate_version", "mode", "created_at")
"""Roles an adopted table may lack (``null`` in the block); the writer then leaves them out."""


@dataclass(frozen=True, slots=True)
class OutboxColumns:
    """The column name of each role in the outbox table (``None``: the table has no such column)."""

    id: str = "id"
    aggregate_type: str = "aggregatetype"
    aggregate_id: str = "aggregateid"
    event_type: str = "type"
    payload: str = "payload"
    correlation_id: str | None = "correlation_id"
    causation_id: str | None = "causation_id"
    aggregate_version: str | None = "aggregate_version"
    mode: str | None = "mode"
    created_at: str | None = "created_at"

    def __post_init__(self) -> None:
        named = self.items()
        for role, column in named:
            if not IDENTIFIER.match(column):
                raise ValueError(
                    f"outbox column {role}={column!r} is not a lower-case SQL identifier"
                )
        names = [column for _, column in named]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"outbox columns named twice: {', '.join(twice)}")

    def items(self) -> list[tuple[str, str]]:
        """(role, column) of every column the table has, in DDL order."""
        return [
            (f.name, value) for f in fields(self) if (value := getattr(self, f.name)) is not None
        ]


@dataclass(frozen=True, slots=True)
class OutboxLayout:
    """One outbox table: ``schema.table`` and its :class:`OutboxColumns`."""

    table: str = DEFAULT_TABLE
    columns: OutboxColumns = OutboxColumns()

    def __post_init__(self) -> None:
        if not TABLE_NAME.match(self.table):
            raise ValueError(f"outbox table {self.table!r} is not a lower-case [schema.]table name")
        if "." not in self.table:
            object.__setattr__(self, "table", f"public.{self.table}")

    @property
    def schema(self) -> str:
        return self.table.split(".", 1)[0]

    @property
    def name(self) -> str:
        return self.table.split(".", 1)[1]

    @property
    def qualified(self) -> str:
        """The table as SQL (each part double-quoted)."""
        return f'"{self.schema}"."{self.name}"'

    @property
    def version_index(self) -> str:
        return f"uq_{self.name}_aggregate_version"

    def header_columns(self) -> dict[str, str]:
        """Kafka header -> the column it comes from, for the columns the table has."""
        cols = self.columns
        return {
            header: column
            for role, header in HEADERS.items()
            if (column := getattr(cols, role)) is not None
        }

    def connector_options(self, topic_prefix: str = "outbox.event") -> OutboxOptions:
        """The Event Router options for this table: routed by aggregate type to
        ``<topic_prefix>.<aggregate type>``, keyed by aggregate id, headers named as cutover
        reads them (:data:`HEADERS`) whatever the columns are called."""
        headers = self.header_columns()
        cols = self.columns
        return OutboxOptions(
            table=self.table,
            id_field=cols.id,
            key_field=cols.aggregate_id,
            payload_field=cols.payload,
            route_by_field=cols.aggregate_type,
            topic_prefix=topic_prefix,
            header_fields=tuple(headers),
            header_columns=tuple((h, c) for h, c in headers.items() if h != c),
        )


_DDL_TYPES: Mapping[str, str] = {
    "id": "uuid PRIMARY KEY",
    "aggregate_type": "varchar(255) NOT NULL",
    "aggregate_id": "varchar(255) NOT NULL",
    "event_type": "varchar(255) NOT NULL",
    "payload": "jsonb NOT NULL",
    "correlation_id": "varchar(255)",
    "causation_id": "varchar(255)",
    "aggregate_version": "integer NOT NULL DEFAULT 0",
    "mode": "varchar(20)",
    "created_at": "timestamptz NOT NULL DEFAULT now()",
}


def create_table_ddl(layout: OutboxLayout) -> list[str]:
    """The statements that create ``layout``'s table (and its schema, when not ``public``) and
    its index, each idempotent.

    The unique partial index on (aggregate type, aggregate id, aggregate version) forbids
    two rows with one version of one aggregate and serves the repair and version checks;
    version ``0`` (order not checked) is left out of it.
    """
    items = layout.columns.items()
    width = max(len(column) for _, column in items) + 2
    lines = ",\n".join(f"    {_q(column):<{width}} {_DDL_TYPES[role]}" for role, column in items)
    statements = (
        [] if layout.schema == "public" else [f"CREATE SCHEMA IF NOT EXISTS {_q(layout.schema)}"]
    )
    statements.append(f"CREATE TABLE IF NOT EXISTS {layout.qualified} (\n{lines}\n)")
    index = version_index_ddl(layout)
    if index:
        statements.append(index)
    return statements


def version_index_ddl(layout: OutboxLayout) -> str | None:
    """The aggregate-version index (None when the table has no version column)."""
    cols = layout.columns
    if cols.aggregate_version is None:
        return None
    keys = ", ".join(
        _q(c) for c in (cols.aggregate_type, cols.aggregate_id, cols.aggregate_version)
    )
    return (
        f"CREATE UNIQUE INDEX IF NOT EXISTS {_q(layout.version_index)} ON {layout.qualified} "
        f"({keys}) WHERE {_q(cols.aggregate_version)} > 0"
    )


def ddl_script(layout: OutboxLayout) -> str:
    """The DDL as one script for a change board (alembic's offline style: one transaction)."""
    body = "".join(f"{s};\n\n" for s in create_table_ddl(layout))
    return f"-- cutover outbox table {layout.table}\nBEGIN;\n\n{body}COMMIT;\n"


@dataclass(frozen=True, slots=True)
class ExistingColumn:
    """A column of an existing table, as ``information_schema.columns`` describes it."""

    name: str
    data_type: str
    nullable: bool = True
    has_default: bool = False


@dataclass(frozen=True, slots=True)
class ColumnConflict:
    """Why an existing table cannot serve as ``layout``'s outbox (one problem, one line)."""

    column: str
    problem: str

    def __str__(self) -> str:
        return self.problem


_ACCEPTED: Mapping[str, tuple[str, ...]] = {
    "id": ("uuid",),
    "aggregate_type": ("character varying", "text"),
    "aggregate_id": ("character varying", "text"),
    "event_type": ("character varying", "text"),
    "payload": ("jsonb",),
    "correlation_id": ("character varying", "text"),
    "causation_id": ("character varying", "text"),
    "aggregate_version": ("integer", "bigint"),
    "mode": ("character varying", "text"),
    "created_at": ("timestamp with time zone",),
}

_SHORT = {"character varying": "varchar", "timestamp with time zone": "timestamptz"}


def column_conflicts(
    layout: OutboxLayout, existing: Mapping[str, ExistingColumn]
) -> list[ColumnConflict]:
    """Every way the existing table (column name -> column) differs from ``layout``.

    A column is missing, or has a type the writer and the router cannot use; a column
    outside the layout is a conflict only when it is NOT NULL without a default (an
    insert by the writer would fail).
    """
    conflicts: list[ColumnConflict] = []
    for role, column in layout.columns.items():
        found = existing.get(column)
        if found is None:
            conflicts.append(ColumnConflict(column, f"missing column {column} ({role})"))
        elif found.data_type not in _ACCEPTED[role]:
            want = " or ".join(_SHORT.get(t, t) for t in _ACCEPTED[role])
            conflicts.append(
                ColumnConflict(
                    column, f"column {column} has type {found.data_type}, expected {want}"
                )
            )
    known = {column for _, column in layout.columns.items()}
    for name, found in sorted(existing.items()):
        if name not in known and not found.nullable and not found.has_default:
            conflicts.append(
                ColumnConflict(
                    name,
                    f"column {name} is NOT NULL without a default and is not in the outbox "
                    "block (the writer cannot fill it)",
                )
            )
    return conflicts


def _q(identifier: str) -> str:
    return f'"{identifier}"'
