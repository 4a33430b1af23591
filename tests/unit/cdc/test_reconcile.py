"""Declarative connectors: loading the YAML, diff against the (fake) cluster, apply."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from cdc import reconcile
from cdc.client import ConnectClient
from cdc.debezium import (
    DatabaseOptions,
    OutboxOptions,
    PostgresConnectorOptions,
    build_postgres_config,
)
from cdc.desired import load_desired, load_desired_file
from cdc.errors import DangerousConfig, DesiredStateError, InvalidConnectorConfig
from cdc.fake import FakeConnectWorker
from cutover_common.secrets import Secret

PASSWORD = "desired-pw-42"
ENV = {"SHOP_DB_PASSWORD": PASSWORD}


def spec(**over: object) -> dict:
    connector: dict = {
        "debezium_postgres": {
            "database": {
                "hostname": "127.0.0.1",
                "port": 5432,
                "user": "app",
                "dbname": "shop",
                "password_env": "SHOP_DB_PASSWORD",
            },
            "topic_prefix": "shop",
            "slot_name": "shop_slot",
            "publication_name": "shop_pub",
        }
    }
    connector.update(over)
    return {"connectors": {"shop-outbox": connector}}


def client() -> tuple[ConnectClient, FakeConnectWorker]:
    worker = FakeConnectWorker()
    return ConnectClient(worker, sleep=lambda _s: None), worker


def test_yaml_file_loads_with_the_password_from_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "connectors.yaml"
    path.write_text(
        "connectors:\n  shop-outbox:\n    state: paused\n    debezium_postgres:\n"
        "      database: {hostname: db, user: app, dbname: shop, password_env: SHOP_DB_PASSWORD}\n"
        "      topic_prefix: shop\n      slot_name: s\n      publication_name: p\n"
    )
    [desired] = load_desired_file(path, env=ENV)
    assert desired.name == "shop-outbox"
    assert desired.state == "PAUSED"
    assert desired.config["database.hostname"] == "db"
    assert PASSWORD not in repr(desired)


def test_missing_environment_variable_is_a_clear_error() -> None:
    with pytest.raises(DesiredStateError) as info:
        load_desired(spec(), env={})
    assert "SHOP_DB_PASSWORD" in str(info.value)


def test_unknown_keys_and_inline_passwords_are_rejected() -> None:
    with pytest.raises(DesiredStateError) as info:
        load_desired({"connectors": {"x": {"colour": "red"}}}, env=ENV)
    assert "colour" in str(info.value)
    bad = spec()
    bad["connectors"]["shop-outbox"]["debezium_postgres"]["database"]["password"] = "inline"
    with pytest.raises(DesiredStateError):
        load_desired(bad, env=ENV)


def test_raw_config_with_env_reference() -> None:
    [desired] = load_desired(
        {
            "connectors": {
                "raw": {
                    "config": {
                        "connector.class": "PostgresConnector",
                        "tasks.max": 1,
                        "database.password": {"env": "SHOP_DB_PASSWORD"},
                    }
                }
            }
        },
        env=ENV,
    )
    assert desired.config["tasks.max"] == "1"
    assert desired.config["database.password"].reveal() == PASSWORD  # type: ignore[union-attr]


def outbox_keys(config: Mapping[str, object]) -> dict[str, object]:
    return {k: v for k, v in config.items() if k.startswith("transforms.outbox.")}


def test_desired_outbox_defaults_are_the_builders_and_send_the_aggregate_version() -> None:
    [desired] = load_desired(spec(), env=ENV)
    built = build_postgres_config(
        PostgresConnectorOptions(
            database=DatabaseOptions("127.0.0.1", 5432, "app", "shop", Secret(PASSWORD)),
            topic_prefix="shop",
            slot_name="shop_slot",
            publication_name="shop_pub",
            outbox=OutboxOptions(),
        )
    )
    assert outbox_keys(desired.config) == outbox_keys(built)
    placement = desired.config["transforms.outbox.table.fields.additional.placement"]
    assert "aggregate_version:header:aggregate_version" in str(placement).split(",")
    assert desired.config["transforms.outbox.table.field.additional.missing"] == "ignore"


def test_desired_outbox_headers_and_missing_policy_can_be_overridden() -> None:
    connector = spec()
    connector["connectors"]["shop-outbox"]["debezium_postgres"]["outbox"] = {
        "header_fields": ["type", "aggregate_version"],
        "missing_header_fields": "error",
    }
    [desired] = load_desired(connector, env=ENV)
    assert desired.config["transforms.outbox.table.fields.additional.placement"] == (
        "type:header:type,aggregate_version:header:aggregate_version"
    )
    assert desired.config["transforms.outbox.table.field.additional.missing"] == "error"


def test_unknown_missing_header_policy_in_a_desired_file_is_reported() -> None:
    connector = spec()
    connector["connectors"]["shop-outbox"]["debezium_postgres"]["outbox"] = {
        "missing_header_fields": "skip"
    }
    with pytest.raises(DesiredStateError) as info:
        load_desired(connector, env=ENV)
    assert "connectors.shop-outbox: missing_header_fields must be one of" in str(info.value)


def test_diff_shows_create_then_nothing_after_apply() -> None:
    c, worker = client()
    desired = load_desired(spec(), env=ENV)
    [d] = reconcile.diff(c, desired)
    assert d.action == "create" and d.drift
    result = reconcile.apply(c, desired)
    assert result.performed == ("create shop-outbox",)
    assert worker.connectors["shop-outbox"].config["database.password"] == PASSWORD
    [again] = reconcile.diff(c, desired)
    assert again.action == "unchanged" and not again.drift


def test_diff_is_readable_and_masks_secrets() -> None:
    c, _ = client()
    reconcile.apply(c, load_desired(spec(), env=ENV))
    changed = spec()
    changed["connectors"]["shop-outbox"]["debezium_postgres"]["snapshot_mode"] = "initial"
    desired = load_desired(changed, env={"SHOP_DB_PASSWORD": "another-pw-99"})
    [d] = reconcile.diff(c, desired)
    text = d.render()
    assert d.action == "update"
    assert "~ snapshot.mode: 'no_data' -> 'initial'" in text
    assert "~ database.password: '***' -> '*** (changed)'" in text
    assert PASSWORD not in text and "another-pw-99" not in text
    assert PASSWORD not in str(d.to_dict())


def test_dry_run_changes_nothing() -> None:
    c, worker = client()
    result = reconcile.apply(c, load_desired(spec(), env=ENV), dry_run=True)
    assert result.dry_run and result.drift
    assert result.performed == ()
    assert worker.connectors == {}


def test_state_is_reconciled() -> None:
    c, worker = client()
    reconcile.apply(c, load_desired(spec(), env=ENV))
    result = reconcile.apply(c, load_desired(spec(state="stopped"), env=ENV))
    assert result.performed == ("stopped shop-outbox",)
    assert worker.connectors["shop-outbox"].target == "STOPPED"


def test_create_in_a_non_running_state_uses_initial_state() -> None:
    c, worker = client()
    result = reconcile.apply(c, load_desired(spec(state="paused"), env=ENV))
    assert result.performed == ("create shop-outbox (PAUSED)",)
    assert worker.connectors["shop-outbox"].target == "PAUSED"


def test_unmanaged_connectors_are_reported_never_deleted() -> None:
    c, worker = client()
    reconcile.apply(c, load_desired(spec(), env=ENV))
    other = {"connectors": {"other": {"config": {"connector.class": "MirrorSourceConnector"}}}}
    reconcile.apply(c, load_desired(other, env=ENV))
    diffs = reconcile.diff(c, load_desired(spec(), env=ENV))
    assert [(d.name, d.action) for d in diffs] == [
        ("shop-outbox", "unchanged"),
        ("other", "unmanaged"),
    ]
    reconcile.apply(c, load_desired(spec(), env=ENV))
    assert set(worker.connectors) == {"shop-outbox", "other"}


def test_dangerous_config_is_refused_before_anything_is_sent() -> None:
    c, worker = client()
    bad = spec(
        config={
            "producer.override.sasl.jaas.config": "com.sun.security.auth.module.JndiLoginModule required;"
        }
    )
    with pytest.raises(DangerousConfig):
        reconcile.apply(c, load_desired(bad, env=ENV))
    assert worker.requests == []


def test_dangerous_config_passes_when_explicitly_allowed() -> None:
    c, worker = client()
    ok = spec(
        config={"database.password": "${file:/secrets/pg.properties:pw}"},
        allow=["config_providers"],
    )
    reconcile.apply(c, load_desired(ok, env=ENV))
    assert "shop-outbox" in worker.connectors


def test_validation_errors_stop_the_apply() -> None:
    c, worker = client()
    bad = spec(config={"tasks.max": "many"})
    with pytest.raises(InvalidConnectorConfig) as info:
        reconcile.apply(c, load_desired(bad, env=ENV))
    assert "tasks.max" in info.value.field_errors
    assert worker.connectors == {}


def test_exactly_once_availability_is_asked_of_the_worker() -> None:
    def no_eos(cfg: dict[str, str]) -> dict[str, list[str]]:
        if cfg.get("exactly.once.support") == "required":
            return {"exactly.once.support": ["exactly.once.source.support must be enabled"]}
        return {}

    [desired] = load_desired(spec(), env=ENV)
    assert reconcile.exactly_once_available(ConnectClient(FakeConnectWorker()), desired.config, "x")
    assert not reconcile.exactly_once_available(
        ConnectClient(FakeConnectWorker(validator=no_eos)), desired.config, "x"
    )
