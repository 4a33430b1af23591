"""Create (or adopt) the outbox table in the application's database: ``cutover outbox init``.

:func:`init_outbox` runs :func:`cdc.outbox_table.create_table_ddl` in one transaction when
the table does not exist; when it does, the table is compared with the layout and never
altered: a conflict raises :class:`~cutover.errors.OutboxTableConflict` naming each problem,
a conforming table gets only its aggregate-version index (when missing).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
import structlog

from cdc.outbox_table import (
    ExistingColumn,
    OutboxLayout,
    column_conflicts,
    create_table_ddl,
    version_index_ddl,
)
from comparators.sources import libpq_url
from cutover.errors import OutboxDatabaseError, OutboxTableConflict

log = structlog.get_logger(__name__)

_LOCK = "SELECT pg_advisory_xact_lock(hashtext('cutover.outbox.init'))"
_COLUMNS = (
    "SELECT column_name, data_type, is_nullable = 'YES', column_default IS NOT NULL "
    "FROM information_schema.columns WHERE table_schema = %s AND table_name = %s"
)
_INDEX = "SELECT 1 FROM pg_indexes WHERE schemaname = %s AND tablename = %s AND indexname = %s"


@dataclass(frozen=True, slots=True)
class InitResult:
    """What :func:`init_outbox` did: ``created`` the table, or found it (``adopted``)."""

    table: str
    created: bool
    index_created: bool
    statements: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "status": "created" if self.created else "adopted",
            "index_created": self.index_created,
            "statements": list(self.statements),
        }


def existing_columns(
    conn: psycopg.Connection[Any], layout: OutboxLayout
) -> dict[str, ExistingColumn]:
    """The columns of ``layout``'s table as it exists (empty: no such table)."""
    rows = conn.execute(_COLUMNS, (layout.schema, layout.name)).fetchall()
    return {
        name: ExistingColumn(name, dtype, bool(nullable), bool(default))
        for name, dtype, nullable, default in rows
    }


@contextmanager
def outbox_connection(conninfo: str, work: str) -> Iterator[psycopg.Connection[Any]]:
    """A psycopg connection to the outbox database (URL or DSN, 10 s connect timeout); a
    driver error inside becomes :class:`~cutover.errors.OutboxDatabaseError`: an operational
    one "cannot reach the outbox database" (exit 8), any other "``work`` failed" (exit 1)."""
    try:
        with psycopg.connect(libpq_url(conninfo), connect_timeout=10) as conn:
            yield conn
    except psycopg.OperationalError as exc:
        raise OutboxDatabaseError(
            f"cannot reach the outbox database: {driver_reason(exc)}"
        ) from None
    except psycopg.Error as exc:
        raise OutboxDatabaseError(
            f"{work} failed: {driver_reason(exc)}", unreachable=False
        ) from None


def init_outbox(conninfo: str, layout: OutboxLayout) -> InitResult:
    """Create ``layout``'s table (idempotent) or adopt the existing one; see the module doc."""
    with outbox_connection(conninfo, "the outbox DDL") as conn:
        return _init(conn, layout)


def _init(conn: psycopg.Connection[Any], layout: OutboxLayout) -> InitResult:
    index = version_index_ddl(layout)
    with conn.transaction():
        conn.execute(_LOCK)
        existing = existing_columns(conn, layout)
        if not existing:
            statements = tuple(create_table_ddl(layout))
            _run(conn, statements)
            log.info("outbox.created", table=layout.table)
            return InitResult(layout.table, True, index in statements, statements)
        conflicts = column_conflicts(layout, existing)
        if conflicts:
            raise OutboxTableConflict(layout.table, [str(c) for c in conflicts])
        found = conn.execute(_INDEX, (layout.schema, layout.name, layout.version_index))
        ran = (index,) if index is not None and found.fetchone() is None else ()
        _run(conn, ran)
        log.info("outbox.adopted", table=layout.table, index_created=bool(ran))
        return InitResult(layout.table, False, bool(ran), ran)


def _run(conn: psycopg.Connection[Any], statements: tuple[str, ...]) -> None:
    for statement in statements:
        conn.execute(statement.encode())


def driver_reason(exc: psycopg.Error) -> str:
    """The driver's error class and the first line of its text (never the conninfo)."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".strip()
