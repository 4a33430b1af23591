"""One place for the outbox's names: the phase-2 connector, the canary and the repair writer
take the table and its columns from the plan's ``outbox:`` block (defaults: today's layout)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from sqlalchemy import create_engine

from comparators.outbox import PostgresOutbox, insert_statement, written_roles
from cutover._drivers import psycopg_insert
from phases.adapters import CdcConnectorAdmin
from phases.adapters_kafka import OutboxCanary
from phases.plan import Plan, parse_plan
from tests.unit.phases.conftest import SAMPLE

RENAMED = {
    "table": "app.events_outbox",
    "id": "event_id",
    "aggregate_type": "stream",
    "aggregate_id": "stream_key",
    "event_type": "kind",
    "payload": "body",
    "correlation_id": "corr",
    "causation_id": "cause",
    "aggregate_version": "seq",
    "mode": "written_in",
    "created_at": "at",
}
URL = "postgresql+psycopg://app:pw@db.example:5433/shop"


def plan_with(outbox: dict[str, Any] | None) -> Plan:
    data: dict[str, Any] = yaml.safe_load(SAMPLE.read_text())
    if outbox is not None:
        data["outbox"] = outbox
    return parse_plan(data)


def connector_config(plan: Plan) -> dict[str, Any]:
    return CdcConnectorAdmin(plan, {}, URL).config()


def test_the_phase_2_connector_captures_the_plans_table_and_names_its_columns() -> None:
    config = connector_config(plan_with(RENAMED))

    assert config["table.include.list"] == (
        "app.events_outbox,public.debezium_heartbeat,public.cutover_outbox_signal"
    )
    assert config["transforms.outbox.table.field.event.id"] == "event_id"
    assert config["transforms.outbox.table.field.event.key"] == "stream_key"
    assert config["transforms.outbox.table.field.event.payload"] == "body"
    assert config["transforms.outbox.route.by.field"] == "stream"
    assert config["predicates.isOutbox.pattern"] == r"cutover-outbox\.app\.events_outbox"


def test_the_phase_2_connector_keeps_cutovers_header_names_whatever_the_columns() -> None:
    config = connector_config(plan_with(RENAMED))

    assert config["transforms.outbox.table.fields.additional.placement"] == (
        "kind:header:type,corr:header:correlation_id,cause:header:causation_id,"
        "seq:header:aggregate_version,written_in:header:mode"
    )


def test_the_default_block_gives_todays_connector_plus_the_mode_header() -> None:
    config = connector_config(plan_with(None))

    assert config["table.include.list"] == (
        "public.outbox,public.debezium_heartbeat,public.cutover_outbox_signal"
    )
    assert config["transforms.outbox.route.by.field"] == "aggregatetype"
    assert config["transforms.outbox.table.fields.additional.placement"] == (
        "type:header:type,correlation_id:header:correlation_id,"
        "causation_id:header:causation_id,aggregate_version:header:aggregate_version,"
        "mode:header:mode"
    )
    # a table without one of those columns (the sample's has no mode) sends no such header
    assert config["transforms.outbox.table.field.additional.missing"] == "ignore"
    assert config["transforms.outbox.route.topic.replacement"] == "outbox.event.${routedByValue}"


def test_the_phase_2_connector_never_republishes_history() -> None:
    assert connector_config(plan_with(None))["snapshot.mode"] == "no_data"


@pytest.fixture
def engine() -> Any:
    return create_engine(URL)  # never connects in these tests


def test_the_canary_inserts_into_the_plans_table_with_its_column_names(engine: Any) -> None:
    canary = OutboxCanary(plan_with(RENAMED), engine, {"bootstrap.servers": "k:9092"})
    columns = set(RENAMED.values()) - {"app.events_outbox"}

    sql = psycopg_insert(canary.outbox_for(columns).layout)

    assert sql.startswith(
        'INSERT INTO "app"."events_outbox" ("event_id", "stream", "stream_key", "kind", '
        '"body", "corr", "cause", "seq", "written_in") VALUES'
    )
    assert "outbox (" not in sql and "aggregatetype" not in sql


def test_the_canary_leaves_out_optional_columns_an_adopted_table_lacks(engine: Any) -> None:
    canary = OutboxCanary(plan_with(None), engine, {"bootstrap.servers": "k:9092"})
    todays_sample = {
        "id",
        "aggregatetype",
        "aggregateid",
        "type",
        "payload",
        "correlation_id",
        "causation_id",
        "aggregate_version",
        "created_at",
    }

    layout = canary.outbox_for(todays_sample).layout

    assert layout.columns.mode is None
    assert '"mode"' not in psycopg_insert(layout)
    assert canary.outbox_for(todays_sample | {"mode"}) is canary.outbox


def test_the_repair_writer_inserts_with_the_plans_column_names() -> None:
    layout = plan_with(RENAMED).outbox.layout()
    writer = PostgresOutbox("postgresql://app@db/shop", layout)

    unversioned = insert_statement(writer.layout, versioned=False).as_string(None)
    versioned = insert_statement(writer.layout, versioned=True).as_string(None)

    assert unversioned == (
        'INSERT INTO "app"."events_outbox" ("event_id", "stream", "stream_key", "kind", '
        '"body", "corr", "cause") VALUES (%s, %s, %s, %s, %s::jsonb, %s, %s) '
        'ON CONFLICT ("event_id") DO NOTHING'
    )
    assert versioned.startswith('INSERT INTO "app"."events_outbox" ("event_id", "stream",')
    assert '"cause", "seq") VALUES' in versioned


def test_the_repair_writer_skips_the_roles_the_block_leaves_out() -> None:
    layout = plan_with({"correlation_id": None, "causation_id": None}).outbox.layout()

    assert written_roles(layout, versioned=False) == (
        "id",
        "aggregate_type",
        "aggregate_id",
        "event_type",
        "payload",
    )
    sql = insert_statement(layout, versioned=False).as_string(None)
    assert sql == (
        'INSERT INTO "public"."outbox" ("id", "aggregatetype", "aggregateid", "type", '
        '"payload") VALUES (%s, %s, %s, %s, %s::jsonb) ON CONFLICT ("id") DO NOTHING'
    )


def test_the_repair_writer_defaults_to_todays_outbox() -> None:
    writer = PostgresOutbox("postgresql://app@db/shop")
    sql = insert_statement(writer.layout, versioned=True).as_string(None)

    assert writer.table == "public.outbox"
    assert sql.startswith(
        'INSERT INTO "public"."outbox" ("id", "aggregatetype", "aggregateid", "type", '
        '"payload", "correlation_id", "causation_id", "aggregate_version")'
    )
