"""The plan's connectors read Debezium signals from their signal table from the start: after
``cutover connectors recover`` (which adds the same settings) the plan shows no drift, and a
connector created before they existed gets them by an update that republishes nothing."""

from __future__ import annotations

from datetime import UTC, datetime

from cdc.client import ConnectClient
from cdc.debezium import ConfigValue, build_postgres_config
from cdc.fake import FakeConnectWorker, MemoryCaptureDatabase
from cdc.reconcile import apply, diff
from cdc.recover import recover
from cdc.resnapshot import resnapshot_reasons
from cdc.signal import signal_settings, signal_table_ddl, with_signal_table
from cutover_common.secrets import Secret
from phases.outbox_connectors import (
    OutboxConnector,
    application_connector,
    connector_config,
    connector_options,
    shadow_outbox_connector,
    support_tables_ddl,
)
from phases.plan_connectors import plan_desired
from tests.unit.phases.conftest import SAMPLE
from tests.unit.phases.test_plan_connectors import (
    BLOCK,
    ENV,
    URL,
    connectors_cli,
    plan_with,
)

LOST = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def before_signals(connector: OutboxConnector) -> dict[str, str]:
    """The config the plan built for ``connector`` before it carried its signal table."""
    config = build_postgres_config(connector_options(connector, URL, ENV))
    return {k: v.reveal() if isinstance(v, Secret) else v for k, v in config.items()}


def worker_running(config: dict[str, str], name: str) -> tuple[FakeConnectWorker, ConnectClient]:
    worker = FakeConnectWorker()
    client = ConnectClient(worker, sleep=lambda _s: None)
    client.create_connector(name, config)
    return worker, client


# ---------------------------------------------------------------------------- the config
def test_the_plans_connectors_read_signals_from_the_table_recovery_uses() -> None:
    plan = plan_with(BLOCK, shadow_outbox={})
    for connector in (application_connector(plan), shadow_outbox_connector(plan)):
        assert connector is not None
        config = connector_config(connector, URL, ENV)
        table = f"public.{connector.slot_name}_signal"

        assert connector.signal_table == table
        assert config["signal.data.collection"] == table
        assert config["table.include.list"].split(",")[-1] == table  # type: ignore[union-attr]


def test_the_signal_table_is_created_with_the_heartbeat_table_before_the_connector() -> None:
    connector = application_connector(plan_with(BLOCK, shadow_outbox={}))

    ddl = support_tables_ddl(connector)

    assert ddl[1] == signal_table_ddl("public.shop_outbox_signal")
    assert all(d.startswith("CREATE TABLE IF NOT EXISTS") for d in ddl)  # idempotent
    assert "public.shop_heartbeat" in ddl[0]


def test_with_signal_table_is_idempotent_and_keeps_secrets() -> None:
    config: dict[str, ConfigValue] = {
        "table.include.list": "public.outbox",
        "database.password": Secret("pw"),
    }

    once = with_signal_table(config, "public.s_signal")

    assert with_signal_table(once, "public.s_signal") == once
    assert once["table.include.list"] == "public.outbox,public.s_signal"
    assert once["database.password"] == Secret("pw")


def test_a_plan_connector_needs_no_signal_change_from_recovery() -> None:
    connector = application_connector(plan_with(BLOCK, shadow_outbox={}))
    config = {k: str(v) for k, v in connector_config(connector, URL, ENV).items()}

    assert signal_settings(config, connector.signal_table) == {}


# ------------------------------------------------------------- after connectors recover
def test_after_recover_the_plans_connector_shows_no_drift() -> None:
    connector = application_connector(plan_with(None))
    old = before_signals(connector)
    worker, client = worker_running(old, connector.name)
    worker.record_offset(
        connector.name,
        {"server": old["topic.prefix"]},
        {"lsn": 10, "lsn_proc": 10, "ts_usec": int(LOST.timestamp() * 1e6)},
    )
    assert [d.action for d in diff(client, [plan_desired(plan_with(None), ENV)[0].desired])] == [
        "update"
    ]

    recover(client, connector.name, MemoryCaptureDatabase(), sleep=lambda _s: None)
    code, output = connectors_cli(worker, "diff", "--plan", str(SAMPLE))

    assert "signal.data.collection" in client.get_config(connector.name)
    assert code == 0, output
    assert f"= {connector.name} (unchanged)" in output


def test_apply_adds_the_signal_table_to_a_running_connector_without_a_resnapshot() -> None:
    plan = plan_with(BLOCK, shadow_outbox={})
    [owned, _shadow] = plan_desired(plan, ENV)
    old = before_signals(application_connector(plan))
    _worker, client = worker_running(old, owned.desired.name)

    assert resnapshot_reasons(old, owned.desired.config) == []
    result = apply(client, [owned.desired])  # refuses a resnapshot unless allowed

    [d] = result.diffs
    assert {c.key for c in d.changes} == {"signal.data.collection", "table.include.list"}
    assert result.performed == (f"update {owned.desired.name} (2 keys)",)
    live = client.get_config(owned.desired.name)
    assert live["signal.data.collection"] == "public.shop_outbox_signal"
    assert live["slot.name"] == old["slot.name"] and live["topic.prefix"] == old["topic.prefix"]
    assert [x.action for x in diff(client, [owned.desired])] == ["unchanged"]
