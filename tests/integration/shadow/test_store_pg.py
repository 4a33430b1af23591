from __future__ import annotations

from collections.abc import Iterator

import pytest

from legacy_app.orderflow.store_pg import PostgresStore
from rehearsal.stack.endpoints import Endpoints
from tests.unit.shadow.store_contract import StoreContract


class TestPostgresStore(StoreContract):
    @pytest.fixture
    def store(self, endpoints: Endpoints, fresh_database: str) -> Iterator[PostgresStore]:
        s = PostgresStore(endpoints.dsn(fresh_database))
        s.ensure_schema({"SKU-0001": 100})
        yield s
        s.close()

    def test_outcome_sql_constant_is_the_default_schema_query(self, store: PostgresStore) -> None:
        from legacy_app.orderflow.outcomes import OUTCOME_SQL, outcome_sql

        assert outcome_sql("shadow") == OUTCOME_SQL
        assert "shadow.order_status" in OUTCOME_SQL

    def test_awkward_text_survives_the_copy_format(self, store: PostgresStore) -> None:
        from tests.unit.shadow.store_contract import order_changes

        awkward = 'tab\there, new\nline, back\\slash, cr\r, \\N, quote" é ✓'
        changes = order_changes("o-awk")
        row = changes.outbox[0]
        changes.outbox[0] = type(row)(
            row.id, row.aggregatetype, row.aggregateid, row.type,
            {"note": awkward, "order_id": "o-awk"}, awkward, row.causation_id,
        )  # fmt: skip
        with store.transaction() as tx:
            tx.apply_encoded(store.encode(changes))
        got = store.conn.execute(
            f"SELECT payload->>'note', correlation_id FROM {store.schema}.outbox"
        ).fetchone()
        assert got == (awkward, awkward)
