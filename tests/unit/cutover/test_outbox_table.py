"""The outbox table's layout: DDL, Event Router options and conflicts with an existing table."""

from __future__ import annotations

import pytest

from cdc.debezium import OutboxOptions, build_postgres_config
from cdc.desired import load_desired
from cdc.outbox_table import (
    ExistingColumn,
    OutboxColumns,
    OutboxLayout,
    column_conflicts,
    create_table_ddl,
    ddl_script,
)

RENAMED = OutboxLayout(
    "app.events_outbox",
    OutboxColumns(
        id="event_id",
        aggregate_type="stream",
        aggregate_id="stream_key",
        event_type="kind",
        payload="body",
        correlation_id="corr",
        causation_id="cause",
        aggregate_version="seq",
        mode="written_in",
        created_at="at",
    ),
)


def test_default_ddl_is_the_router_layout_plus_cutover_columns() -> None:
    table, index = create_table_ddl(OutboxLayout())
    assert table.startswith('CREATE TABLE IF NOT EXISTS "public"."outbox" (')
    for line in (
        '"id"                uuid PRIMARY KEY',
        '"aggregatetype"     varchar(255) NOT NULL',
        '"aggregateid"       varchar(255) NOT NULL',
        '"type"              varchar(255) NOT NULL',
        '"payload"           jsonb NOT NULL',
        '"correlation_id"    varchar(255)',
        '"causation_id"      varchar(255)',
        '"aggregate_version" integer NOT NULL DEFAULT 0',
        '"mode"              varchar(20)',
        '"created_at"        timestamptz NOT NULL DEFAULT now()',
    ):
        assert line in table
    assert index == (
        'CREATE UNIQUE INDEX IF NOT EXISTS "uq_outbox_aggregate_version" ON "public"."outbox" '
        '("aggregatetype", "aggregateid", "aggregate_version") WHERE "aggregate_version" > 0'
    )


def test_renamed_layout_ddl_creates_its_schema_and_uses_its_names() -> None:
    schema, table, index = create_table_ddl(RENAMED)
    assert schema == 'CREATE SCHEMA IF NOT EXISTS "app"'
    assert '"event_id"   uuid PRIMARY KEY' in table
    assert '"body"       jsonb NOT NULL' in table
    assert '"seq"        integer NOT NULL DEFAULT 0' in table
    assert "aggregatetype" not in table
    assert index.endswith(
        'ON "app"."events_outbox" ("stream", "stream_key", "seq") WHERE "seq" > 0'
    )


def test_a_table_without_version_or_mode_has_neither_column_nor_index() -> None:
    layout = OutboxLayout(columns=OutboxColumns(aggregate_version=None, mode=None))
    assert len(create_table_ddl(layout)) == 1
    assert '"mode"' not in create_table_ddl(layout)[0]


def test_ddl_script_is_one_transaction_for_a_change_board() -> None:
    script = ddl_script(OutboxLayout())
    assert script.splitlines()[:2] == ["-- cutover outbox table public.outbox", "BEGIN;"]
    assert script.rstrip().endswith("COMMIT;")
    assert script.count(";\n") == 4


def test_an_unqualified_table_lives_in_public() -> None:
    assert OutboxLayout("events").table == "public.events"


@pytest.mark.parametrize("bad", ["Outbox", "a-b", "x.y.z", "1table", ""])
def test_table_names_are_lower_case_identifiers(bad: str) -> None:
    with pytest.raises(ValueError, match="table"):
        OutboxLayout(bad)


def test_a_column_named_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="named twice: payload"):
        OutboxColumns(event_type="payload")


def test_a_column_with_quotes_is_refused() -> None:
    with pytest.raises(ValueError, match="not a lower-case SQL identifier"):
        OutboxColumns(payload='body"; drop table x; --')


def test_default_layout_maps_to_the_default_router_options_plus_mode() -> None:
    opts = OutboxLayout().connector_options("outbox.event")
    defaults = OutboxOptions()
    assert (opts.table, opts.id_field, opts.key_field, opts.payload_field, opts.route_by_field) == (
        defaults.table,
        defaults.id_field,
        defaults.key_field,
        defaults.payload_field,
        defaults.route_by_field,
    )
    assert opts.header_fields == (*defaults.header_fields, "mode")
    assert opts.header_columns == ()


def test_renamed_columns_keep_cutovers_header_names() -> None:
    opts = RENAMED.connector_options("app.ev")
    assert opts.placement == (
        "kind:header:type,corr:header:correlation_id,cause:header:causation_id,"
        "seq:header:aggregate_version,written_in:header:mode"
    )
    assert (opts.id_field, opts.key_field, opts.payload_field, opts.route_by_field) == (
        "event_id",
        "stream_key",
        "body",
        "stream",
    )


def test_connector_config_from_a_renamed_layout() -> None:
    from cdc.debezium import DatabaseOptions, PostgresConnectorOptions
    from cutover_common.secrets import Secret

    cfg = build_postgres_config(
        PostgresConnectorOptions(
            database=DatabaseOptions("h", 5432, "u", "d", Secret("pw")),
            topic_prefix="app",
            slot_name="s",
            publication_name="p",
            outbox=RENAMED.connector_options("app.ev"),
            heartbeat=None,
        )
    )
    assert cfg["table.include.list"] == "app.events_outbox"
    assert cfg["transforms.outbox.table.field.event.id"] == "event_id"
    assert cfg["transforms.outbox.table.field.event.key"] == "stream_key"
    assert cfg["transforms.outbox.table.field.event.payload"] == "body"
    assert cfg["transforms.outbox.route.by.field"] == "stream"
    assert cfg["transforms.outbox.route.topic.replacement"] == "app.ev.${routedByValue}"
    assert cfg["transforms.outbox.table.fields.additional.placement"].startswith(
        "kind:header:type,"
    )
    assert cfg["predicates.isOutbox.pattern"] == r"app\.app\.events_outbox"


def test_a_mode_less_table_sends_no_mode_header() -> None:
    layout = OutboxLayout(columns=OutboxColumns(mode=None))
    assert "mode" not in layout.connector_options().header_fields


def test_header_columns_must_name_known_headers() -> None:
    with pytest.raises(ValueError, match="not in header_fields"):
        OutboxOptions(header_fields=("type",), header_columns=(("mode", "m"),))


def test_desired_file_can_rename_outbox_columns_and_keep_header_names() -> None:
    data = {
        "connectors": {
            "c": {
                "debezium_postgres": {
                    "database": {"hostname": "h", "user": "u", "dbname": "d", "password_env": "PW"},
                    "topic_prefix": "t",
                    "slot_name": "s",
                    "publication_name": "p",
                    "outbox": {
                        "id_field": "event_id",
                        "key_field": "stream_key",
                        "header_fields": ["type", "correlation_id"],
                        "header_columns": {"type": "kind"},
                    },
                }
            }
        }
    }
    (desired,) = load_desired(data, env={"PW": "x"})
    assert desired.config["transforms.outbox.table.field.event.id"] == "event_id"
    assert desired.config["transforms.outbox.table.field.event.key"] == "stream_key"
    assert (
        desired.config["transforms.outbox.table.fields.additional.placement"]
        == "kind:header:type,correlation_id:header:correlation_id"
    )


def _table(**types: str) -> dict[str, ExistingColumn]:
    return {name: ExistingColumn(name, t) for name, t in types.items()}


DEFAULT_TYPES = {
    "id": "uuid",
    "aggregatetype": "character varying",
    "aggregateid": "character varying",
    "type": "text",
    "payload": "jsonb",
    "correlation_id": "character varying",
    "causation_id": "character varying",
    "aggregate_version": "bigint",
    "mode": "character varying",
    "created_at": "timestamp with time zone",
}


def test_a_matching_table_has_no_conflict() -> None:
    assert column_conflicts(OutboxLayout(), _table(**DEFAULT_TYPES)) == []


def test_each_conflict_is_named_on_its_own() -> None:
    types = {**DEFAULT_TYPES, "payload": "text", "id": "bigint"}
    del types["mode"]
    existing = _table(**types)
    existing["tenant"] = ExistingColumn("tenant", "text", nullable=False, has_default=False)
    existing["note"] = ExistingColumn("note", "text", nullable=False, has_default=True)
    problems = [str(c) for c in column_conflicts(OutboxLayout(), existing)]
    assert problems == [
        "column id has type bigint, expected uuid",
        "column payload has type text, expected jsonb",
        "missing column mode (mode)",
        "column tenant is NOT NULL without a default and is not in the outbox block "
        "(the writer cannot fill it)",
    ]


def test_the_legacy_table_is_adopted_by_naming_no_mode_column() -> None:
    types = dict(DEFAULT_TYPES)
    del types["mode"]
    layout = OutboxLayout(columns=OutboxColumns(mode=None))
    assert column_conflicts(layout, _table(**types)) == []
