"""The rule that keeps a running connector from publishing its outbox again: the pure
function (live config + desired config -> reasons) and ``reconcile.apply`` refusing it."""

from __future__ import annotations

from typing import Any

import pytest

from cdc import reconcile
from cdc.client import ConnectClient
from cdc.desired import DesiredConnector
from cdc.errors import EXIT_CONFLICT, ResnapshotRefused
from cdc.fake import FakeConnectWorker
from cdc.resnapshot import resnapshot_reasons
from tests.unit.cdc.test_fake_contract import fake_config

LIVE = {"topic.prefix": "shop", "slot.name": "shop_slot", "publication.name": "shop_slot_pub"}


def test_the_same_identity_gives_no_reason() -> None:
    assert resnapshot_reasons(LIVE, {**LIVE, "heartbeat.interval.ms": "1"}) == []


def test_a_new_topic_prefix_says_it_republishes_every_outbox_row() -> None:
    [reason] = resnapshot_reasons(LIVE, {**LIVE, "topic.prefix": "shop2"})
    assert reason.startswith(
        "changing topic.prefix from shop to shop2 republishes every outbox row as new messages"
    )


def test_a_new_slot_and_publication_give_one_reason_each() -> None:
    reasons = resnapshot_reasons(
        LIVE, {**LIVE, "slot.name": "other", "publication.name": "other_pub"}
    )
    assert [r.split(" from ")[0] for r in reasons] == [
        "changing slot.name",
        "changing publication.name",
    ]


def test_a_connector_not_running_yet_gives_no_reason() -> None:
    assert resnapshot_reasons({}, LIVE) == []


def running(prefix: str) -> tuple[ConnectClient, FakeConnectWorker]:
    worker = FakeConnectWorker()
    client = ConnectClient(worker, sleep=lambda _s: None)
    client.create_connector("shop-outbox", {**fake_config(prefix), "slot.name": "shop_slot"})
    return client, worker


def desired(prefix: str, **over: Any) -> list[DesiredConnector]:
    config = {**fake_config(prefix), "slot.name": "shop_slot", **over}
    return [DesiredConnector("shop-outbox", config)]


def test_apply_refuses_a_new_prefix_and_changes_nothing() -> None:
    client, _ = running("shop")

    with pytest.raises(ResnapshotRefused) as info:
        reconcile.apply(client, desired("shop2"), validate=False)

    assert info.value.exit_code == EXIT_CONFLICT
    assert "pass --allow-resnapshot" in str(info.value)
    assert client.get_config("shop-outbox")["topic.prefix"] == "shop"


def test_apply_with_allow_resnapshot_changes_the_prefix() -> None:
    client, _ = running("shop")

    reconcile.apply(client, desired("shop2"), validate=False, allow_resnapshot=True)

    assert client.get_config("shop-outbox")["topic.prefix"] == "shop2"


def test_apply_changes_other_keys_of_a_running_connector_without_refusing() -> None:
    client, _ = running("shop")

    reconcile.apply(client, desired("shop", **{"heartbeat.interval.ms": "2500"}), validate=False)

    assert client.get_config("shop-outbox")["heartbeat.interval.ms"] == "2500"
