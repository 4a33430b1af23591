from __future__ import annotations

from collections.abc import Iterator

import pytest

from rehearsal.stack.endpoints import Endpoints
from shadow.store_pg import PostgresStore
from tests.unit.shadow.store_contract import StoreContract


class TestPostgresStore(StoreContract):
    @pytest.fixture
    def store(self, endpoints: Endpoints, fresh_database: str) -> Iterator[PostgresStore]:
        s = PostgresStore(endpoints.dsn(fresh_database))
        s.ensure_schema({"SKU-0001": 100})
        yield s
        s.close()

    def test_outcome_sql_constant_is_the_default_schema_query(self, store: PostgresStore) -> None:
        from shadow.outcomes import OUTCOME_SQL, outcome_sql

        assert outcome_sql("shadow") == OUTCOME_SQL
        assert "shadow.order_status" in OUTCOME_SQL
