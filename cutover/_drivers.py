"""The INSERT of an outbox row through each supported driver, after the transaction check.

SQLAlchemy (``Session``, ``scoped_session``, ``Connection``) and psycopg 3 (``Connection``),
on PostgreSQL; SQLAlchemy on SQLite too, for an application's unit tests (no casts: the id
and the payload are stored as text). Each refuses a target outside a transaction before any
SQL runs.
"""

from __future__ import annotations

import functools
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus
from sqlalchemy import Connection as SaConnection
from sqlalchemy import text
from sqlalchemy.orm import Session, scoped_session
from sqlalchemy.sql.elements import TextClause

from cdc.outbox_table import OutboxLayout
from cutover.errors import NotInTransaction, UnsupportedConnection

_PSYCOPG_STATES = {
    TransactionStatus.IDLE: "idle (no transaction begun)",
    TransactionStatus.ACTIVE: "busy running another command",
    TransactionStatus.INERROR: "in a failed transaction (roll it back)",
    TransactionStatus.UNKNOWN: "in an unknown state (connection lost?)",
}


@functools.lru_cache(maxsize=64)
def written_roles(layout: OutboxLayout) -> tuple[str, ...]:
    """The roles an insert writes: every column the table has but ``created_at`` (its default)."""
    return tuple(role for role, _ in layout.columns.items() if role != "created_at")


@functools.lru_cache(maxsize=64)
def psycopg_insert(layout: OutboxLayout) -> str:
    """The INSERT for ``layout`` with ``%s`` parameters in :func:`written_roles` order (the
    DBAPI ``format`` style of psycopg 3 and psycopg2; the id and payload cast in SQL)."""
    roles = written_roles(layout)
    casts = {"payload": "::jsonb", "id": "::uuid"}
    values = ", ".join(f"%s{casts.get(r, '')}" for r in roles)
    return f"INSERT INTO {layout.qualified} ({_columns(layout, roles)}) VALUES ({values})"


@functools.lru_cache(maxsize=64)
def sqlalchemy_insert(layout: OutboxLayout) -> TextClause:
    """The INSERT for ``layout`` with ``:role`` parameters (ids and payload cast in SQL, so
    any DBAPI driver works)."""
    roles = written_roles(layout)
    casts = {"payload": "jsonb", "id": "uuid"}
    values = ", ".join(f"CAST(:{r} AS {casts[r]})" if r in casts else f":{r}" for r in roles)
    return text(f"INSERT INTO {layout.qualified} ({_columns(layout, roles)}) VALUES ({values})")


@functools.lru_cache(maxsize=64)
def sqlite_insert(layout: OutboxLayout) -> TextClause:
    """The INSERT for ``layout`` on SQLite (tests): the table without its schema (SQLite has
    none), ``:role`` parameters, no casts."""
    roles = written_roles(layout)
    values = ", ".join(f":{r}" for r in roles)
    return text(f'INSERT INTO "{layout.name}" ({_columns(layout, roles)}) VALUES ({values})')


def _columns(layout: OutboxLayout, roles: tuple[str, ...]) -> str:
    return ", ".join(f'"{getattr(layout.columns, role)}"' for role in roles)


def write(target: Any, layout: OutboxLayout, row: dict[str, Any]) -> None:
    """INSERT ``row`` (values by role) through ``target``, in its current transaction."""
    if isinstance(target, psycopg.Connection):
        _write_psycopg(target, layout, row)
    elif isinstance(target, scoped_session):
        _write_session(target(), layout, row)
    elif isinstance(target, Session):
        _write_session(target, layout, row)
    elif isinstance(target, SaConnection):
        _write_sa_connection(target, layout, row)
    else:
        raise UnsupportedConnection(f"a {type(target).__module__}.{type(target).__qualname__}")


def _write_psycopg(
    conn: psycopg.Connection[Any], layout: OutboxLayout, row: dict[str, Any]
) -> None:
    if conn.autocommit:
        raise NotInTransaction("psycopg connection", "in autocommit mode")
    status = conn.info.transaction_status
    if status != TransactionStatus.INTRANS:
        raise NotInTransaction("psycopg connection", _PSYCOPG_STATES.get(status, str(status)))
    conn.execute(psycopg_insert(layout), tuple(row.values()))


def _write_session(session: Session, layout: OutboxLayout, row: dict[str, Any]) -> None:
    # in_transaction() first: ``dirty`` scans the identity map.
    if not (session.in_transaction() or session.new or session.deleted or session.dirty):
        raise NotInTransaction(
            "SQLAlchemy session", "not in a transaction (nothing begun, nothing pending)"
        )
    conn = session.connection()  # the session's transaction on its (default) bind
    _check_sa_connection(conn, "SQLAlchemy session")
    _sa_execute(conn, layout, row)


def _write_sa_connection(conn: SaConnection, layout: OutboxLayout, row: dict[str, Any]) -> None:
    if not conn.in_transaction():
        raise NotInTransaction("SQLAlchemy connection", "not in a transaction")
    _check_sa_connection(conn, "SQLAlchemy connection")
    _sa_execute(conn, layout, row)


def _sa_execute(conn: SaConnection, layout: OutboxLayout, row: dict[str, Any]) -> None:
    """On a ``%s`` driver (psycopg, psycopg2) the driver's SQL runs as it is: no compilation,
    and SQLAlchemy's cursor events (logging, tracing) still see it; otherwise Core text."""
    if conn.dialect.name == "sqlite":
        conn.execute(sqlite_insert(layout), _sa_params(row))
    elif conn.dialect.paramstyle in ("format", "pyformat"):
        # the id as text: psycopg2 adapts no UUID (the SQL casts it)
        values = tuple(str(v) if k == "id" else v for k, v in row.items())
        conn.exec_driver_sql(psycopg_insert(layout), values)
    else:
        conn.execute(sqlalchemy_insert(layout), _sa_params(row))


def _check_sa_connection(conn: SaConnection, target: str) -> None:
    if conn.dialect.name not in ("postgresql", "sqlite"):
        raise UnsupportedConnection(f"a {conn.dialect.name} database (PostgreSQL or SQLite)")
    dbapi = conn.connection.dbapi_connection
    if getattr(dbapi, "autocommit", False) is True:
        raise NotInTransaction(target, "in AUTOCOMMIT isolation")


def _sa_params(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "id": str(row["id"])}
