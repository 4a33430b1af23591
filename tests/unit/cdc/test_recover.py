"""``cutover connectors recover``'s steps against the fake worker and the in-memory ports."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cdc.client import ConnectClient
from cdc.debezium import OutboxOptions, outbox_router_config
from cdc.errors import RecoveryIncomplete, RecoveryRefused
from cdc.fake import FakeConnectWorker, MemoryCaptureDatabase, MemoryEventLog, MemoryRow
from cdc.health import SlotInfo
from cdc.recover import RecoveryOptions, RecoveryReport, recover
from cdc.signal import BackfillColumns, gap_condition, signal_settings, snapshot_signal
from tests.unit.cdc.test_fake_contract import fake_config

LOST = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
TOPIC = "shop.order"


def ticking() -> Callable[[], float]:
    """A clock one second further at each reading (no test waits)."""
    ticks = itertools.count()
    return lambda: float(next(ticks))


def run(client: ConnectClient, db: MemoryCaptureDatabase, **kw: Any) -> RecoveryReport:
    return recover(client, "c", db, clock=ticking(), sleep=lambda _s: None, **kw)


def at(seconds: float) -> datetime:
    return LOST + timedelta(seconds=seconds)


def setup(
    *, delivered: set[str] | None = None
) -> tuple[FakeConnectWorker, ConnectClient, MemoryCaptureDatabase, MemoryEventLog]:
    worker = FakeConnectWorker()
    client = ConnectClient(worker, sleep=lambda _s: None)
    config = {
        **fake_config("srv"),
        "slot.name": "shop_slot",
        "publication.name": "shop_pub",
        "table.include.list": "public.outbox,public.debezium_heartbeat",
        **outbox_router_config(OutboxOptions(topic_prefix="shop"), "srv"),
    }
    client.create_connector("c", config)
    worker.record_offset(
        "c", {"server": "srv"}, {"lsn": 10, "lsn_proc": 10, "ts_usec": int(LOST.timestamp() * 1e6)}
    )
    rows = [
        MemoryRow("old", "order", at(-60)),  # long delivered: outside the window
        MemoryRow("d1", "order", at(-3)),  # in the margin, delivered
        MemoryRow("d2", "order", at(-1)),  # in the margin, delivered
        MemoryRow("g1", "order", at(2)),  # the gap
        MemoryRow("g2", "order", at(5)),  # the gap
        MemoryRow("new", "order", at(30)),  # after the new slot: streamed (delivered)
    ]
    db = MemoryCaptureDatabase(rows=rows, now=at(20))
    events = MemoryEventLog(
        delivered={TOPIC: delivered if delivered is not None else {"old", "d1", "d2", "new"}}
    )
    return worker, client, db, events


def test_recovery_recreates_slot_resumes_from_it_and_backfills_only_the_gap() -> None:
    worker, client, db, events = setup()
    db.publications["shop_pub"] = ["public.outbox", "public.debezium_heartbeat"]
    steps: list[str] = []
    report = run(client, db, events=events, say=steps.append)
    assert (report.rows_in_window, report.delivered_in_window, report.gap) == (5, 3, 2)
    assert report.may_reemit == 0 and report.lost_at == LOST and report.until > at(20)
    assert "shop_slot" in db.slots
    assert db.publications["shop_pub"] == [
        "public.outbox",
        "public.debezium_heartbeat",
        "public.shop_slot_signal",
    ]
    assert any(
        s.endswith("publication shop_pub now publishes public.shop_slot_signal") for s in steps
    )
    [entry] = worker.connectors["c"].offsets
    assert entry["offset"]["lsn"] == entry["offset"]["lsn_proc"] == db.next_lsn
    assert entry["offset"]["ts_usec"] == int(LOST.timestamp() * 1e6)
    config = worker.connectors["c"].config
    assert config["signal.data.collection"] == "public.shop_slot_signal"
    assert config["table.include.list"].endswith(",public.shop_slot_signal")
    assert "srv.public.shop_slot_signal" in events.topics
    assert client.status("c").state == "RUNNING"
    [(_id, kind, data)] = [
        s for s in db.signals["public.shop_slot_signal"] if s[1] != "snapshot-window-close"
    ]
    condition = json.loads(data)["additional-conditions"][0]["filter"]
    assert kind == "execute-snapshot" and "\"id\" IN ('g1', 'g2')" in condition
    assert any("backfill done" in s for s in steps)


def test_without_kafka_the_whole_window_is_read_and_reemits_are_unknown() -> None:
    _worker, client, db, _events = setup()
    report = run(client, db)
    assert report.gap == 4 and report.delivered_in_window is None and report.may_reemit is None
    data = db.signals["public.shop_slot_signal"][0][2]
    assert " IN (" not in json.loads(data)["additional-conditions"][0]["filter"]


def test_a_row_committed_at_the_new_slots_start_and_not_streamed_is_backfilled() -> None:
    """With Kafka, the window runs past the resume: a row after the slot's start that never
    reached Kafka (seen once in a real run) is in the gap."""
    _worker, client, db, events = setup(delivered={"old", "d1", "d2"})
    report = run(client, db, events=events)
    assert (report.rows_in_window, report.gap) == (5, 3)


def test_without_kafka_the_window_ends_at_the_new_slot() -> None:
    _worker, client, db, _events = setup()
    report = run(client, db)
    assert (report.rows_in_window, report.until) == (4, at(20))


def test_an_empty_gap_sends_no_signal() -> None:
    _worker, client, db, events = setup(delivered={"d1", "d2", "g1", "g2", "new"})
    report = run(client, db, events=events)
    assert report.gap == 0 and report.signal_id is None
    assert db.signals["public.shop_slot_signal"] == []


def test_an_existing_slot_is_refused_before_anything_changes() -> None:
    worker, client, db, events = setup()
    db.slots["shop_slot"] = SlotInfo("shop_slot", True, 0)
    with pytest.raises(RecoveryRefused, match="slot shop_slot exists"):
        run(client, db, events=events)
    assert worker.connectors["c"].target == "RUNNING" and db.signals == {}


def test_a_slot_that_lost_its_wal_is_dropped_and_created_again() -> None:
    _worker, client, db, events = setup()
    db.slots["shop_slot"] = SlotInfo("shop_slot", False, None, "lost")
    report = run(client, db, events=events)
    assert db.slots["shop_slot"].wal_status == "reserved"
    assert any("lost its WAL" in s for s in report.steps)


def test_no_stored_position_is_refused_and_the_connector_resumed() -> None:
    worker, client, db, events = setup()
    worker.connectors["c"].offsets = []
    with pytest.raises(RecoveryRefused, match="no stored position"):
        run(client, db, events=events)
    assert worker.connectors["c"].target == "RUNNING" and "shop_slot" not in db.slots


def test_a_backfill_that_does_not_finish_times_out_with_progress() -> None:
    _worker, client, db, events = setup()
    db.closes_windows = False
    with pytest.raises(RecoveryIncomplete, match="0 of 1 window"):
        run(client, db, events=events, options=RecoveryOptions(timeout_s=5))


def test_not_a_postgres_connector_is_refused() -> None:
    worker = FakeConnectWorker()
    client = ConnectClient(worker, sleep=lambda _s: None)
    client.create_connector(
        "m", {"connector.class": "org.apache.kafka.connect.mirror.MirrorSourceConnector"}
    )
    with pytest.raises(RecoveryRefused, match="not a Debezium Postgres connector"):
        recover(client, "m", MemoryCaptureDatabase(), sleep=lambda _s: None)


def test_gap_condition_lists_the_shorter_side_and_quotes_values() -> None:
    cols = BackfillColumns("public.outbox", id="id", created="made")
    gap = gap_condition(cols, at(0), at(1), gap_ids={"a'b"}, delivered_ids=["x", "y"])
    assert gap.sql.endswith("AND \"id\" IN ('a''b')") and '"made" >= ' in gap.sql
    fewer_delivered = gap_condition(cols, at(0), at(1), gap_ids={"a", "b"}, delivered_ids=["x"])
    assert (
        fewer_delivered.sql.endswith("\"id\" NOT IN ('x')") and fewer_delivered.excludes_delivered
    )
    unknown = gap_condition(cols, at(0), at(1))
    assert " IN " not in unknown.sql and not unknown.excludes_delivered


def test_signal_settings_are_additive_and_idempotent() -> None:
    live = {"table.include.list": "public.outbox", "signal.enabled.channels": "kafka"}
    changes = signal_settings(live, "public.s_signal")
    assert changes == {
        "signal.data.collection": "public.s_signal",
        "signal.enabled.channels": "kafka,source",
        "table.include.list": "public.outbox,public.s_signal",
    }
    assert signal_settings({**live, **changes}, "public.s_signal") == {}
    data = json.loads(snapshot_signal("public.outbox", "x > 1"))
    assert data["type"] == "incremental" and data["data-collections"] == ["public.outbox"]


def test_a_dry_run_measures_the_window_and_changes_nothing() -> None:
    worker, client, db, events = setup()
    report = run(client, db, events=events, options=RecoveryOptions(dry_run=True))
    assert report.dry_run and (report.rows_in_window, report.gap) == (5, 2)  # until now: "new" too
    assert worker.connectors["c"].target == "RUNNING"
    assert db.slots == {} and db.signals == {} and db.publications == {}
