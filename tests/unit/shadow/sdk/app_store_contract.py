"""One contract for the handler apps' store, run on SQLite (unit) and PostgreSQL (integration)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from shadow.app_buffer import AppBuffer, EffectRow, OutboxEntry
from shadow.app_store import AppStore
from shadow.plugin import ProcessedRow
from shadow.store import AlreadyProcessedError, StoreWriteError

T0 = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
TEAM_TABLE = (
    "CREATE TABLE IF NOT EXISTS team_counts ("
    "item varchar(64) PRIMARY KEY, n integer NOT NULL CHECK (n >= 0))"
)
UPSERT = (
    "INSERT INTO team_counts (item, n) VALUES (:item, :n) "
    "ON CONFLICT (item) DO UPDATE SET n = team_counts.n + EXCLUDED.n"
)


def claimed(*event_ids: str, ts: datetime = T0, consumer: str = "team") -> AppBuffer:
    buf = AppBuffer()
    buf.processed.extend(ProcessedRow(consumer, e, ts) for e in event_ids)
    return buf


def effect_row(event_id: str, outcome: str = "recorded", ts: datetime = T0) -> EffectRow:
    return EffectRow("team", event_id, "notify", "dual", outcome, {"to": "x"}, {"ok": 1}, ts)  # type: ignore[arg-type]


def outbox_entry(event_id: str) -> OutboxEntry:
    return OutboxEntry(
        uuid.uuid4(), "author", "au-1", "author.notified", {"n": 1}, "c-1", event_id, "dual", T0
    )


class AppStoreContract:
    """Subclasses provide ``store``: an :class:`AppStore` with ``TEAM_TABLE``, schema ensured."""

    def test_applied_claims_are_found(self, store: AppStore) -> None:
        with store.transaction() as tx:
            tx.apply(claimed("e1", "e2"))
        with store.transaction() as tx:
            assert tx.processed_ids("team", ["e1", "e2", "e3"]) == {"e1", "e2"}
            assert tx.processed_ids("other", ["e1"]) == set()

    def test_a_claim_made_twice_raises_already_processed_with_the_ids(
        self, store: AppStore
    ) -> None:
        with store.transaction() as tx:
            tx.apply(claimed("e1"))
        with pytest.raises(AlreadyProcessedError) as info, store.transaction() as tx:
            tx.apply(claimed("e2", "e1"))
        assert info.value.event_ids == {"e1", "e2"}
        with store.transaction() as tx:
            assert tx.processed_ids("team", ["e2"]) == set()  # rolled back with the batch

    def test_queued_statements_run_per_text_in_order(self, store: AppStore) -> None:
        buf = claimed("e1", "e2", "e3")
        buf.writes.extend(
            [
                (UPSERT, {"item": "a", "n": 1}),
                ("UPDATE team_counts SET n = n * 10 WHERE item = :item", {"item": "a"}),
                (UPSERT, {"item": "a", "n": 2}),
                (UPSERT, {"item": "b", "n": 5}),
            ]
        )
        with store.transaction() as tx:
            tx.apply(buf)
        # every UPSERT (text first seen first) before the UPDATE: (1 + 2) * 10
        assert store.query("SELECT item, n FROM team_counts ORDER BY item") == [
            {"item": "a", "n": 30},
            {"item": "b", "n": 5},
        ]

    def test_effects_and_outbox_rows_are_written_with_the_claims(self, store: AppStore) -> None:
        buf = claimed("e1")
        buf.effects.append(effect_row("e1"))
        buf.outbox.append(outbox_entry("e1"))
        with store.transaction() as tx:
            tx.apply(buf)
        assert store.query("SELECT event_id, name, outcome FROM effects") == [
            {"event_id": "e1", "name": "notify", "outcome": "recorded"}
        ]
        assert store.query(
            "SELECT type, causation_id, mode, aggregate_version FROM outbox"
        ) == [{"type": "author.notified", "causation_id": "e1", "mode": "dual",
               "aggregate_version": 0}]  # fmt: skip

    def test_a_refused_write_raises_store_write_error_and_keeps_nothing(
        self, store: AppStore
    ) -> None:
        buf = claimed("e1")
        buf.writes.append(("INSERT INTO team_counts (item, n) VALUES (:item, -1)", {"item": "a"}))
        with pytest.raises(StoreWriteError), store.transaction() as tx:
            tx.apply(buf)
        with store.transaction() as tx:
            assert tx.processed_ids("team", ["e1"]) == set()

    def test_a_savepoint_rolls_back_only_its_own_writes(self, store: AppStore) -> None:
        with store.transaction() as tx:
            tx.execute(UPSERT, {"item": "kept", "n": 1})
            with pytest.raises(StoreWriteError), tx.savepoint():
                tx.execute(UPSERT, {"item": "dropped", "n": 1})
                tx.execute("INSERT INTO team_counts (item, n) VALUES ('x', -5)")
            tx.apply(claimed("e1"))
        assert store.query("SELECT item FROM team_counts") == [{"item": "kept"}]

    def test_execute_counts_rows_and_query_sees_them_in_the_transaction(
        self, store: AppStore
    ) -> None:
        with store.transaction() as tx:
            assert tx.execute(UPSERT, {"item": "a", "n": 4}) == 1
            assert tx.query("SELECT n FROM team_counts WHERE item = :i", {"i": "a"}) == [{"n": 4}]

    def test_anomalies_add_up(self, store: AppStore) -> None:
        for _ in range(2):
            with store.transaction() as tx:
                tx.add_anomalies({("article", "tombstone"): 2, ("article", "gap"): 1})
        assert store.anomaly_counts() == {"article": {"tombstone": 4, "gap": 2}}

    def test_sequences_keep_the_highest_per_consumer(self, store: AppStore) -> None:
        with store.transaction() as tx:
            tx.set_sequences("team", "article", {"a1": 5, "a2": 2})
            tx.set_sequences("team", "article", {"a1": 3})
            tx.set_sequences("other", "article", {"a1": 9})
        with store.transaction() as tx:
            assert tx.last_sequences("team", "article", ["a1", "a2", "a3"]) == {"a1": 5, "a2": 2}

    def test_ensure_schema_is_idempotent_and_keeps_rows(self, store: AppStore) -> None:
        with store.transaction() as tx:
            tx.apply(claimed("e1"))
        store.ensure_schema()
        assert store.table_counts() == {
            "processed_events": 1,
            "delivery_anomalies": 0,
            "aggregate_sequences": 0,
            "effects": 0,
            "outbox": 0,
        }

    def test_rebuild_since_forgets_the_later_events_and_what_they_wrote(
        self, store: AppStore
    ) -> None:
        later = T0 + timedelta(minutes=5)
        old, new = claimed("old"), claimed("new", ts=later)
        for buf, eid in ((old, "old"), (new, "new")):
            buf.effects.append(effect_row(eid))
            buf.outbox.append(outbox_entry(eid))
            with store.transaction() as tx:
                tx.apply(buf)
        assert store.rebuild_since(later) == 1
        with store.transaction() as tx:
            assert tx.processed_ids("team", ["old", "new"]) == {"old"}
        assert store.query("SELECT event_id FROM effects") == [{"event_id": "old"}]
        assert store.query("SELECT causation_id FROM outbox") == [{"causation_id": "old"}]
