"""The Debezium Postgres config builder."""

from __future__ import annotations

import pytest

from cdc.debezium import (
    EVENT_ROUTER,
    POSTGRES_CONNECTOR,
    STRING_CONVERTER,
    DatabaseOptions,
    HeartbeatOptions,
    OutboxOptions,
    PasswordRef,
    PostgresConnectorOptions,
    build_postgres_config,
    display_config,
)
from cdc.safety import CONFIG_PROVIDERS, scan
from cutover_common.secrets import Secret

PASSWORD = "builder-pw-123"


def options(**kw: object) -> PostgresConnectorOptions:
    db = DatabaseOptions("127.0.0.1", 5432, "app", "shop", Secret(PASSWORD))
    return PostgresConnectorOptions(
        database=db,
        topic_prefix="shop",
        slot_name="shop_slot",
        publication_name="shop_pub",
        **kw,  # type: ignore[arg-type]
    )


def test_core_settings() -> None:
    cfg = build_postgres_config(options())
    assert cfg["connector.class"] == POSTGRES_CONNECTOR
    assert cfg["plugin.name"] == "pgoutput"
    assert cfg["slot.name"] == "shop_slot"
    assert cfg["publication.name"] == "shop_pub"
    assert cfg["publication.autocreate.mode"] == "filtered"
    assert cfg["snapshot.mode"] == "no_data"  # never republishes the outbox's history
    assert cfg["tombstones.on.delete"] == "false"
    assert cfg["database.port"] == "5432"


def test_publication_covers_only_the_outbox_and_the_heartbeat_table() -> None:
    cfg = build_postgres_config(options())
    assert cfg["table.include.list"] == "public.outbox,public.debezium_heartbeat"


def test_outbox_event_router_routing_and_headers() -> None:
    cfg = build_postgres_config(options(outbox=OutboxOptions(topic_prefix="outbox.event")))
    assert cfg["transforms"] == "outbox"
    assert cfg["transforms.outbox.type"] == EVENT_ROUTER
    assert cfg["transforms.outbox.table.field.event.id"] == "id"
    assert cfg["transforms.outbox.table.field.event.key"] == "aggregateid"
    assert cfg["transforms.outbox.table.field.event.payload"] == "payload"
    assert cfg["transforms.outbox.route.by.field"] == "aggregatetype"
    assert cfg["transforms.outbox.route.topic.replacement"] == "outbox.event.${routedByValue}"
    assert cfg["transforms.outbox.table.fields.additional.placement"] == (
        "type:header:type,correlation_id:header:correlation_id,causation_id:header:causation_id,"
        "aggregate_version:header:aggregate_version"
    )
    assert cfg["transforms.outbox.table.field.additional.missing"] == "ignore"
    assert cfg["predicates.isOutbox.pattern"] == r"shop\.public\.outbox"
    assert cfg["key.converter"] == STRING_CONVERTER


def test_missing_header_columns_can_fail_the_task_instead() -> None:
    outbox = OutboxOptions(header_fields=("type",), missing_header_fields="error")
    cfg = build_postgres_config(options(outbox=outbox))
    assert cfg["transforms.outbox.table.fields.additional.placement"] == "type:header:type"
    assert cfg["transforms.outbox.table.field.additional.missing"] == "error"


def test_unknown_missing_header_policy_is_refused() -> None:
    with pytest.raises(ValueError, match="missing_header_fields"):
        OutboxOptions(missing_header_fields="skip")


def test_heartbeat_interval_and_action_query() -> None:
    cfg = build_postgres_config(options(heartbeat=HeartbeatOptions(interval_ms=5000)))
    assert cfg["heartbeat.interval.ms"] == "5000"
    assert str(cfg["heartbeat.action.query"]).startswith("INSERT INTO public.debezium_heartbeat")


def test_heartbeat_without_a_table_emits_a_logical_message() -> None:
    cfg = build_postgres_config(options(heartbeat=HeartbeatOptions(table=None)))
    assert "pg_logical_emit_message" in str(cfg["heartbeat.action.query"])
    assert cfg["table.include.list"] == "public.outbox"


def test_exactly_once_tombstones_snapshot_and_metadata() -> None:
    cfg = build_postgres_config(
        options(
            exactly_once=True,
            tombstones_on_delete=True,
            snapshot_mode="initial",
            transaction_metadata=True,
        )
    )
    assert cfg["exactly.once.support"] == "required"
    assert cfg["tombstones.on.delete"] == "true"
    assert cfg["snapshot.mode"] == "initial"
    assert cfg["provide.transaction.metadata"] == "true"


def test_plain_table_capture_keeps_json_keys() -> None:
    cfg = build_postgres_config(options(outbox=None, tables=("public.items",), heartbeat=None))
    assert "transforms" not in cfg
    assert cfg["table.include.list"] == "public.items"
    assert cfg["key.converter"] != STRING_CONVERTER


def test_bad_options_are_refused() -> None:
    with pytest.raises(ValueError):
        options(snapshot_mode="sometimes")
    with pytest.raises(ValueError):
        options(outbox=None)


def test_password_stays_secret_in_every_display() -> None:
    opts = options()
    cfg = build_postgres_config(opts)
    assert isinstance(cfg["database.password"], Secret)
    assert PASSWORD not in repr(opts)
    assert PASSWORD not in repr(cfg)
    assert PASSWORD not in str(display_config(cfg))
    assert display_config(cfg)["database.password"] == "***"


def test_password_by_reference_uses_a_config_provider() -> None:
    db = DatabaseOptions(
        "h", 5432, "u", "d", PasswordRef("file", "/etc/secrets/pg.properties", "password")
    )
    cfg = build_postgres_config(
        PostgresConnectorOptions(database=db, topic_prefix="p", slot_name="s", publication_name="s")
    )
    assert cfg["database.password"] == "${file:/etc/secrets/pg.properties:password}"
    assert {f.category for f in scan(cfg)} == {CONFIG_PROVIDERS}
