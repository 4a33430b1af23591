"""The ConnectorHealth verdict from the fake worker and an in-memory slot probe."""

from __future__ import annotations

from dataclasses import FrozenInstanceError

import pytest

from cdc.client import ConnectClient
from cdc.fake import FakeConnectWorker
from cdc.health import (
    ConnectorHealth,
    HealthThresholds,
    SlotInfo,
    check_health,
    debezium_message,
)
from tests.unit.cdc.test_fake_contract import fake_config


class MemoryProbe:
    def __init__(self, slot: SlotInfo | None, age: float | None) -> None:
        self._slot, self._age = slot, age

    def slot(self, slot_name: str) -> SlotInfo | None:
        return self._slot

    def heartbeat_age_s(self, table: str) -> float | None:
        return self._age


def running(failure: str | None = None) -> ConnectClient:
    client = ConnectClient(
        FakeConnectWorker(task_failure=lambda cfg: failure), sleep=lambda _s: None
    )
    client.create_connector("c", {**fake_config("c"), "slot.name": "s1"})
    return client


def test_all_running_active_slot_fresh_heartbeat_is_ok() -> None:
    health = check_health(
        running(),
        "c",
        probe=MemoryProbe(SlotInfo("s1", True, 128), 2.0),
        heartbeat_table="public.debezium_heartbeat",
    )
    assert health.ok and health.reasons == ()
    assert health.slot_lag_bytes == 128 and health.heartbeat_age_s == 2.0
    assert health.task_states == ((0, "RUNNING"),)
    with pytest.raises(FrozenInstanceError):
        health.ok = False  # type: ignore[misc]


def test_failed_task_under_a_running_connector_is_not_ok() -> None:
    health = check_health(running("boom"), "c")
    assert not health.ok
    assert health.connector_state == "RUNNING"
    assert health.reasons == ("task failed: task 0 is FAILED: boom",)


def test_inactive_slot_lag_and_stale_heartbeat_are_reasons() -> None:
    probe = MemoryProbe(SlotInfo("s1", False, 10_000), 120.0)
    health = check_health(
        running(),
        "c",
        probe=probe,
        heartbeat_table="hb",
        thresholds=HealthThresholds(max_lag_bytes=1000, max_heartbeat_age_s=30),
    )
    assert health.reasons == (
        "slot inactive: replication slot s1 is not active",
        "slot lag: slot lag 10000 bytes exceeds 1000",
        "heartbeat: heartbeat is 120.0s old (max 30s)",
    )
    assert health.causes == ("slot inactive", "slot lag", "heartbeat")


def test_missing_slot_and_missing_heartbeat() -> None:
    health = check_health(running(), "c", probe=MemoryProbe(None, None), heartbeat_table="hb")
    assert health.reasons == (
        "slot missing: replication slot s1 does not exist (`cutover connectors recover` "
        "recreates it and backfills the gap)",
        "heartbeat: no heartbeat recorded in hb",
    )


def test_wal_retained_beyond_the_bound_and_a_lost_slot_are_named() -> None:
    probe = MemoryProbe(SlotInfo("s1", False, 10, "lost", 5_000), 1.0)
    health = check_health(
        running(), "c", probe=probe, thresholds=HealthThresholds(max_retained_bytes=4_000)
    )
    assert health.causes == ("slot lost", "slot inactive", "WAL retained")
    assert "holds 5000 bytes of WAL (max 4000; wal_status=lost)" in health.reasons[2]
    assert health.slot_retained_bytes == 5_000


LOST_TRACE = (
    "io.debezium.DebeziumException: The connector is trying to read change stream starting "
    "at PostgresOffsetContext [sourceInfo=source_info[lsn=LSN{6/9629528}]], but this is no "
    "longer available on the server. Reconfigure the connector to use a snapshot mode when "
    "needed.\n\tat io.debezium.connector.postgresql.PostgresConnectorTask.start"
)


def test_a_failed_task_carries_debeziums_message_naming_a_lost_position() -> None:
    health = check_health(running(LOST_TRACE), "c")
    [reason] = health.reasons
    assert reason.startswith("task failed: task 0 is FAILED: Debezium: its stored position")
    assert "replication slot was dropped or lost" in reason
    assert debezium_message("org.x.SomeError: bad password\n\tat x") == "bad password"


def test_without_a_probe_a_required_slot_is_unknown_never_healthy() -> None:
    health = check_health(running(), "c", require_slot=True)
    assert not health.ok and health.unknown and health.causes == ("slot unknown",)
    assert check_health(running(), "c").ok


def test_unknown_connector_is_a_reason_not_an_exception() -> None:
    client = ConnectClient(FakeConnectWorker())
    health = check_health(client, "ghost")
    assert not health.ok
    assert "connector status unavailable" in health.reasons[0]
    assert isinstance(health, ConnectorHealth)
    assert health.to_dict()["ok"] is False
