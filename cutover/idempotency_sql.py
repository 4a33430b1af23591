"""The idempotency store on cutover's ``<schema>.idempotency_keys`` table (created by ``cutover
init`` / :func:`cutover.init_state`, in the application's database); PostgreSQL, and SQLite for
an application's tests.

Each method is one short transaction on its own pooled connection, never the request's: a
claim is committed before the handler runs, so a concurrent repeat sees it at once. A claim is
one ``INSERT ... ON CONFLICT (scope, key) DO UPDATE ... WHERE <may take over>``; when it
changes nothing, the key is read in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Engine, Insert, Row, Table, and_, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError

from cutover.errors import IdempotencyStoreError
from cutover.idempotency import (
    COMPLETED,
    IN_PROGRESS,
    Claim,
    KeyRecord,
    StoredResponse,
)
from cutover.state.models import IdempotencyKeyRow
from cutover.state.naming import DEFAULT_SCHEMA, bind

_KEYS = cast(Table, IdempotencyKeyRow.__table__)
_CLAIM_ATTEMPTS = 3  # a key released between the insert and the read is claimed again


class SqlIdempotencyStore:
    """:class:`~cutover.idempotency.IdempotencyStore` on ``<schema>.idempotency_keys``."""

    def __init__(self, engine: Engine, *, schema: str = DEFAULT_SCHEMA) -> None:
        if engine.dialect.name not in ("postgresql", "sqlite"):
            raise IdempotencyStoreError(f"{engine.dialect.name} is not supported (PostgreSQL)")
        self.engine = bind(engine, schema)

    def claim(self, claim: Claim) -> KeyRecord:
        with _translated(), self.engine.begin() as conn:
            for _ in range(_CLAIM_ATTEMPTS):
                if conn.execute(_claim_statement(conn.dialect.name, claim)).first() is not None:
                    return KeyRecord.claimed(claim)
                row = conn.execute(select(_KEYS).where(*_where(claim.scope, claim.key))).first()
                if row is not None:
                    return _record(row)
        raise IdempotencyStoreError(f"key claimed and released {_CLAIM_ATTEMPTS} times meanwhile")

    def complete(
        self,
        scope: str,
        key: str,
        token: str,
        response: StoredResponse,
        *,
        now: datetime,
        expires_at: datetime,
    ) -> bool:
        values = {
            "status": COMPLETED,
            "response_status": response.status,
            "response_headers": [list(pair) for pair in response.headers],
            "response_body": response.body,
            "completed_at": now,
            "expires_at": expires_at,
        }
        held = update(_KEYS).where(*_held(scope, key, token)).values(**values)
        with _translated(), self.engine.begin() as conn:
            return conn.execute(held).rowcount == 1

    def release(self, scope: str, key: str, token: str) -> bool:
        with _translated(), self.engine.begin() as conn:
            return conn.execute(delete(_KEYS).where(*_held(scope, key, token))).rowcount == 1

    def get(self, scope: str, key: str) -> KeyRecord | None:
        with _translated(), self.engine.connect() as conn:
            row = conn.execute(select(_KEYS).where(*_where(scope, key))).first()
        return None if row is None else _record(row)

    def purge(self, now: datetime) -> int:
        with _translated(), self.engine.begin() as conn:
            return conn.execute(delete(_KEYS).where(_KEYS.c.expires_at <= now)).rowcount


def _where(scope: str, key: str) -> tuple[Any, ...]:
    return (_KEYS.c.scope == scope, _KEYS.c.key == key)


def _held(scope: str, key: str, token: str) -> tuple[Any, ...]:
    return (*_where(scope, key), _KEYS.c.token == token, _KEYS.c.status == IN_PROGRESS)


def _claim_statement(dialect: str, claim: Claim) -> Insert:
    """Insert the key, or take it over when :func:`~cutover.idempotency.can_take_over` (the same
    rule in SQL); returns a row only when the claim holds the key."""
    values: dict[str, Any] = {
        "fingerprint": claim.fingerprint,
        "token": claim.token,
        "status": IN_PROGRESS,
        "response_status": None,
        "response_headers": None,
        "response_body": None,
        "created_at": claim.now,
        "locked_until": claim.lease_until,
        "completed_at": None,
        "expires_at": claim.expires_at,
    }
    may_take_over = or_(
        _KEYS.c.expires_at <= claim.now,
        and_(
            _KEYS.c.status == IN_PROGRESS,
            _KEYS.c.locked_until <= claim.now,
            _KEYS.c.fingerprint == claim.fingerprint,
        ),
    )
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(_KEYS).values(scope=claim.scope, key=claim.key, **values)
    return statement.on_conflict_do_update(
        index_elements=["scope", "key"], set_=values, where=may_take_over
    ).returning(_KEYS.c.token)


def _record(row: Row[Any]) -> KeyRecord:
    response = None
    if row.status == COMPLETED and row.response_status is not None:
        headers = tuple((str(n), str(v)) for n, v in row.response_headers or ())
        response = StoredResponse(int(row.response_status), headers, bytes(row.response_body))
    return KeyRecord(
        row.scope, row.key, row.fingerprint, row.token, row.status,
        _aware(row.locked_until), _aware(row.expires_at), response,
    )  # fmt: skip


def _aware(value: datetime) -> datetime:
    """SQLite gives naive datetimes back: they were stored in UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


@contextmanager
def _translated() -> Iterator[None]:
    """A driver error as :class:`~cutover.errors.IdempotencyStoreError` (its class and first
    line, never the connection string)."""
    try:
        yield
    except DBAPIError as exc:
        lines = str(exc.orig).strip().splitlines()
        reason = f"{type(exc.orig).__name__}: {lines[0] if lines else ''}".strip()
        raise IdempotencyStoreError(reason) from None
