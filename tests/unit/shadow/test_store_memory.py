from __future__ import annotations

import pytest

from legacy_app.orderflow.store_memory import InMemoryStore
from tests.unit.shadow.store_contract import StoreContract


class TestInMemoryStore(StoreContract):
    @pytest.fixture
    def store(self) -> InMemoryStore:
        s = InMemoryStore()
        s.ensure_schema({"SKU-0001": 100})
        return s
