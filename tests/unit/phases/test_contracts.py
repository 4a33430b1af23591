from __future__ import annotations

from pathlib import Path

import pytest

from phases.fakes import FakeTopicAdmin, InMemoryModeStore
from phases.ports import ModeStore, TopicAdmin
from phases.store import SqlModeStore, StateStore
from tests.unit.phases.contracts import ModeStoreContract, TopicAdminContract


class TestInMemoryModeStore(ModeStoreContract):
    def make(self) -> ModeStore:
        return InMemoryModeStore()

    def make_uninitialised(self) -> ModeStore:
        return InMemoryModeStore(initialised=False)


class TestSqliteModeStore(ModeStoreContract):
    @pytest.fixture(autouse=True)
    def _db(self, tmp_path: Path) -> None:
        self.url = f"sqlite:///{tmp_path / 'modes.db'}"

    def make(self) -> ModeStore:
        store = StateStore.from_url(self.url)
        store.initialise()
        return SqlModeStore(store.engine)

    def make_uninitialised(self) -> ModeStore:
        return SqlModeStore(StateStore.from_url(self.url).engine)


class TestFakeTopicAdmin(TopicAdminContract):
    def make(self) -> TopicAdmin:
        return FakeTopicAdmin()
