"""A connector of a desired-connectors file may name its signal table (``signal_table:``):
then ``cutover connectors recover`` adds nothing to it and ``connectors diff`` shows no drift
after a recovery."""

from __future__ import annotations

from typing import Any

from cdc.client import ConnectClient
from cdc.desired import load_desired
from cdc.fake import FakeConnectWorker
from cdc.reconcile import diff
from cdc.signal import signal_settings
from cutover_common.secrets import Secret
from tests.unit.cdc.test_reconcile import ENV, spec


def with_table(table: str | None) -> dict[str, Any]:
    data = spec()
    data["connectors"]["shop-outbox"]["debezium_postgres"]["signal_table"] = table
    return data


def test_a_file_connector_with_signal_table_reads_signals_there() -> None:
    [want] = load_desired(with_table("public.shop_slot_signal"), env=ENV)

    assert want.config["signal.data.collection"] == "public.shop_slot_signal"
    assert str(want.config["table.include.list"]).endswith(",public.shop_slot_signal")


def test_a_file_connector_without_signal_table_has_no_signal_settings() -> None:
    [want] = load_desired(with_table(None), env=ENV)

    assert "signal.data.collection" not in want.config


def test_recovery_adds_nothing_to_a_file_connector_with_its_signal_table() -> None:
    [want] = load_desired(with_table("public.shop_slot_signal"), env=ENV)
    live = {k: v.reveal() if isinstance(v, Secret) else v for k, v in want.config.items()}
    client = ConnectClient(FakeConnectWorker(), sleep=lambda _s: None)
    client.create_connector(want.name, live)

    assert signal_settings(live, "public.shop_slot_signal") == {}  # recover patches nothing
    assert [d.action for d in diff(client, [want])] == ["unchanged"]
