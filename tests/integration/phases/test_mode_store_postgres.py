from __future__ import annotations

import pytest

from phases.ports import ModeStore
from phases.store import SqlModeStore, StateStore
from tests.unit.phases.contracts import ModeStoreContract


class TestPostgresModeStore(ModeStoreContract):
    """The same contract as the in-memory fake, on the real Postgres."""

    @pytest.fixture(autouse=True)
    def _db(self, pg_url: str) -> None:
        self.url = pg_url
        self.created = False

    def make(self) -> ModeStore:
        store = StateStore.from_url(self.url)
        store.initialise()
        with store.engine.begin() as conn:  # each contract test starts from an empty table
            conn.exec_driver_sql("DELETE FROM cutover.context_modes")
        return SqlModeStore(store.engine)

    def make_uninitialised(self) -> ModeStore:
        return SqlModeStore(StateStore.from_url(self.url).engine)  # a fresh database
