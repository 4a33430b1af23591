"""Contract tests shared by the fakes and the real adapters (subclassed once per adapter)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cutover.state.errors import StateNotInitialised
from cutover_common.modes import Mode
from cutover_common.topics import TopicSpecValue
from phases.ports import ModeStore, TopicAdmin


class ModeStoreContract:
    """Any :class:`~phases.ports.ModeStore` behaves like this."""

    def make(self) -> ModeStore:
        raise NotImplementedError

    def make_uninitialised(self) -> ModeStore:
        """A store over a database where ``cutover init`` never ran."""
        raise NotImplementedError

    def test_uninitialised_store_refuses_reads_and_writes_and_creates_nothing(self) -> None:
        store = self.make_uninitialised()
        with pytest.raises(StateNotInitialised, match="run `cutover init`") as info:
            store.get_modes()
        assert info.value.exit_code == 14
        with pytest.raises(StateNotInitialised):
            store.set_modes({"payment": Mode.DUAL}, actor="a")
        with pytest.raises(StateNotInitialised):  # the refused write created no table
            store.get_modes()

    def test_empty_store_has_no_modes(self) -> None:
        assert self.make().get_modes() == {}
        assert self.make().entered_at() == {}

    def test_entered_at_is_when_each_current_mode_was_written(self) -> None:
        store = self.make()
        before = datetime.now(UTC) - timedelta(seconds=1)
        store.set_modes({"order": Mode.SYNC}, actor="a")
        store.set_modes({"payment": Mode.DUAL}, actor="a")
        first = store.entered_at()["payment"]
        store.set_modes({"payment": Mode.SYNC}, actor="a")
        entered = store.entered_at()
        assert set(entered) == {"payment", "order"}
        after = datetime.now(UTC) + timedelta(seconds=1)
        assert before <= entered["order"] <= first <= entered["payment"] <= after

    def test_set_then_get(self) -> None:
        store = self.make()
        store.set_modes({"payment": Mode.DUAL, "order": Mode.SYNC}, actor="a")
        assert store.get_modes() == {"payment": Mode.DUAL, "order": Mode.SYNC}

    def test_set_overwrites_only_the_given_contexts(self) -> None:
        store = self.make()
        store.set_modes({"payment": Mode.DUAL, "order": Mode.DUAL}, actor="a")
        store.set_modes({"payment": Mode.ASYNC}, actor="b")
        assert store.get_modes() == {"payment": Mode.ASYNC, "order": Mode.DUAL}

    def test_every_mode_round_trips(self) -> None:
        store = self.make()
        for i, mode in enumerate(Mode):
            store.set_modes({f"c{i}": mode}, actor="a")
        assert sorted(store.get_modes().values()) == sorted(Mode)


class TopicAdminContract:
    """Any :class:`~phases.ports.TopicAdmin` behaves like this (``prefix`` keeps names unique)."""

    prefix = "contract"

    def make(self) -> TopicAdmin:
        raise NotImplementedError

    def test_ensure_creates_missing_topics_once(self) -> None:
        admin = self.make()
        specs = [
            TopicSpecValue(f"{self.prefix}.a", 2),
            TopicSpecValue(f"{self.prefix}.b", 1, 1, 3600000),
        ]
        assert sorted(admin.ensure_topics(specs)) == [f"{self.prefix}.a", f"{self.prefix}.b"]
        assert admin.ensure_topics(specs) == []
        assert {f"{self.prefix}.a", f"{self.prefix}.b"} <= admin.existing_topics()
