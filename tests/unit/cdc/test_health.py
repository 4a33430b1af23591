"""The ConnectorHealth verdict from the fake worker and an in-memory slot probe."""

from __future__ import annotations

from dataclasses import FrozenInstanceError

import pytest

from cdc.client import ConnectClient
from cdc.fake import FakeConnectWorker
from cdc.health import ConnectorHealth, HealthThresholds, SlotInfo, check_health
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
    assert health.reasons == ("task 0 is FAILED",)


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
        "replication slot s1 is not active",
        "slot lag 10000 bytes exceeds 1000",
        "heartbeat is 120.0s old (max 30s)",
    )


def test_missing_slot_and_missing_heartbeat() -> None:
    health = check_health(running(), "c", probe=MemoryProbe(None, None), heartbeat_table="hb")
    assert health.reasons == ("replication slot s1 does not exist", "no heartbeat recorded in hb")


def test_unknown_connector_is_a_reason_not_an_exception() -> None:
    client = ConnectClient(FakeConnectWorker())
    health = check_health(client, "ghost")
    assert not health.ok
    assert "connector status unavailable" in health.reasons[0]
    assert isinstance(health, ConnectorHealth)
    assert health.to_dict()["ok"] is False
