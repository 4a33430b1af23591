"""The idempotency store contract on the stack's PostgreSQL (``cutover init``'s table), one
database for the module (each test works in its own scope)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

import cutover
from cutover import SqlIdempotencyStore
from rehearsal.stack.endpoints import Endpoints
from rehearsal.stack.pgadmin import create_database, drop_database
from tests.support.idempotency_contract import IdempotencyStoreContract


@pytest.fixture(scope="module")
def pg_store(endpoints: Endpoints) -> Iterator[SqlIdempotencyStore]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    create_database(endpoints, name)
    engine = create_engine(endpoints.database_url(name), pool_size=8)
    try:
        cutover.init_state(engine)
        yield SqlIdempotencyStore(engine)
    finally:
        engine.dispose()
        drop_database(endpoints, name)


class TestPostgresStore(IdempotencyStoreContract):
    @pytest.fixture
    def store(self, pg_store: SqlIdempotencyStore) -> SqlIdempotencyStore:
        return pg_store


def test_the_table_is_in_the_cutover_schema_with_its_expiry_index(
    pg_store: SqlIdempotencyStore,
) -> None:
    with pg_store.engine.connect() as conn:
        indexes = conn.execute(
            text("SELECT indexname FROM pg_indexes WHERE schemaname = 'cutover' "
                 "AND tablename = 'idempotency_keys'")
        ).scalars().all()  # fmt: skip
    assert set(indexes) == {"idempotency_keys_pkey", "ix_idempotency_keys_expires_at"}


def test_a_database_that_cannot_be_reached_is_a_store_error(endpoints: Endpoints) -> None:
    engine = create_engine(endpoints.database_url("no_such_database_here"))
    with pytest.raises(cutover.IdempotencyStoreError) as caught:
        SqlIdempotencyStore(engine).get("s", "k")
    assert str(caught.value).startswith("idempotency store unavailable: OperationalError")
    assert "password" not in str(caught.value)
    engine.dispose()
