"""The handler apps' store on SQLite in memory (the harness's) keeps the store contract."""

from __future__ import annotations

import pytest

from shadow.app_store import AppStore
from tests.unit.shadow.sdk.app_store_contract import TEAM_TABLE, AppStoreContract


class TestSqliteAppStore(AppStoreContract):
    @pytest.fixture
    def store(self) -> AppStore:
        s = AppStore.sqlite_memory([TEAM_TABLE])
        s.ensure_schema()
        return s
