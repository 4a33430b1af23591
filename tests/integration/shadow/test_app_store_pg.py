"""The handler apps' store on the stack's PostgreSQL keeps the same contract as on SQLite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from rehearsal.stack.endpoints import Endpoints
from shadow.app_store import AppStore
from shadow.store import StoreUnavailableError
from tests.unit.shadow.sdk.app_store_contract import TEAM_TABLE, AppStoreContract, claimed


class TestPostgresAppStore(AppStoreContract):
    @pytest.fixture
    def store(self, endpoints: Endpoints, fresh_database: str) -> Iterator[AppStore]:
        s = AppStore.postgres(endpoints.dsn(fresh_database), "team_app", [TEAM_TABLE])
        s.ensure_schema()
        yield s
        s.close()

    def test_the_apps_tables_live_in_its_schema(self, store: AppStore) -> None:
        found = store.query(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'team_app' "
            "ORDER BY table_name"
        )
        assert [r["table_name"] for r in found] == [
            "aggregate_sequences", "delivery_anomalies", "effects", "outbox",
            "processed_events", "team_counts",
        ]  # fmt: skip

    def test_a_broken_connection_is_unavailable_not_refused(self, store: AppStore) -> None:
        with pytest.raises(StoreUnavailableError), store.transaction() as tx:
            tx.execute("SELECT pg_terminate_backend(pg_backend_pid())")
        with store.transaction() as tx:  # the next transaction reconnects
            tx.apply(claimed("e1"))
            assert tx.processed_ids("team", ["e1"]) == {"e1"}
