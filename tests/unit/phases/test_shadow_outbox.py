"""The plan's ``shadow_outbox:`` block: validated offline, built into a connector by the same
builder as the application's, applied entering phase 3 and deleted leaving it, purged by
``cutover outbox purge --shadow`` (the purge's rule itself runs on the real stack:
``tests/integration/cutover/test_shadow_outbox_connector.py``)."""

from __future__ import annotations

import io
from typing import Any

import pytest
import yaml

from cutover.commands import OutboxCommandConfig, outbox_purge
from cutover.errors import OutboxConfigError
from cutover_common.modes import Mode
from phases.adapters import CdcConnectorAdmin
from phases.errors import PlanInvalid, StepFailed
from phases.fakes import FakeConnectorAdmin
from phases.outbox_connectors import application_connector, shadow_outbox_connector
from phases.plan import Plan, parse_plan, plan_json_schema
from phases.ports import Ports
from phases.runner import Runner
from tests.unit.phases.conftest import SAMPLE

URL = "postgresql+psycopg://app:pw@db.example:5433/shop"
SHADOW_URL = "postgresql+psycopg://shadow:pw@shadow-db.example:5434/shadow_store"


def plan_with(shadow_outbox: dict[str, Any] | None, **top: Any) -> Plan:
    data: dict[str, Any] = yaml.safe_load(SAMPLE.read_text())
    if shadow_outbox is not None:
        data["shadow_outbox"] = shadow_outbox
    data.update(top)
    return parse_plan(data)


def issues(data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(PlanInvalid) as info:
        plan_with(data)
    return {i.path: i.message for i in info.value.issues}


# ------------------------------------------------------------------------------- the block
def test_a_plan_without_the_block_declares_no_shadow_outbox_connector() -> None:
    assert shadow_outbox_connector(plan_with(None)) is None


def test_an_empty_block_takes_the_defaults_and_the_system_database() -> None:
    connector = shadow_outbox_connector(plan_with({}))

    assert connector is not None
    assert (connector.name, connector.slot_name, connector.topic_prefix) == (
        "cutover-shadow-outbox",
        "cutover_shadow_outbox",
        "shadow.event",
    )
    assert connector.layout.table == "shadow.outbox"
    assert connector.url_env == "LEGACY_DATABASE_URL"
    assert connector.phase == 3


def test_the_block_names_its_own_database() -> None:
    connector = shadow_outbox_connector(plan_with({"database": {"url_env": "SHADOW_DB_URL"}}))

    assert connector is not None and connector.url_env == "SHADOW_DB_URL"


def test_the_applications_connector_name_is_refused_naming_the_field() -> None:
    found = issues({"connector_name": "cutover-outbox"})

    assert "system.connect.connector_name" in found["shadow_outbox.connector_name"]


def test_the_applications_slot_is_refused_naming_the_field() -> None:
    found = issues({"slot_name": "cutover_outbox"})

    assert "system.connect.slot_name" in found["shadow_outbox.slot_name"]


def test_the_applications_outbox_table_in_the_same_database_is_refused() -> None:
    assert "shadow_outbox.table" in issues({"table": "public.outbox"})


def test_the_applications_table_name_in_another_database_is_accepted() -> None:
    plan = plan_with({"table": "public.outbox", "database": {"url_env": "SHADOW_DB_URL"}})

    assert plan.shadow_outbox is not None and plan.shadow_outbox.table == "public.outbox"


def test_its_columns_are_checked_like_the_outbox_block() -> None:
    found = issues({"payload": "body", "event_type": "body"})

    assert "named twice: body" in found["shadow_outbox"]


def test_a_slot_name_postgres_would_refuse_is_refused_offline() -> None:
    assert "shadow_outbox.slot_name" in issues({"slot_name": "Shadow-Outbox"})


def test_an_unknown_field_in_the_block_is_refused() -> None:
    assert "shadow_outbox.slot" in issues({"slot": "x"})


def test_the_plan_schema_documents_the_block() -> None:
    schema = plan_json_schema()

    block = schema["$defs"]["ShadowOutboxSpec"]["properties"]
    assert {"table", "payload", "database", "connector_name", "slot_name", "topic_prefix"} <= set(
        block
    )
    assert block["connector_name"]["default"] == "cutover-shadow-outbox"


# ---------------------------------------------------------------------------- its connector
RENAMED = {
    "table": "store.followups",
    "event_type": "kind",
    "payload": "body",
    "mode": None,
    "connector_name": "team-shadow-outbox",
    "slot_name": "team_shadow_outbox",
    "topic_prefix": "team.followup",
}


def shadow_config(plan: Plan, url: str = URL) -> dict[str, Any]:
    connector = shadow_outbox_connector(plan)
    assert connector is not None
    return CdcConnectorAdmin(plan, {}, url, connector).config()


def test_the_shadow_connector_is_the_application_builders_with_the_blocks_names() -> None:
    columns = {k: v for k, v in RENAMED.items() if k in ("table", "event_type", "payload", "mode")}
    data: dict[str, Any] = yaml.safe_load(SAMPLE.read_text())
    data["outbox"] = columns
    data["system"]["kafka"]["topic_prefix"] = "team.followup"
    data["system"]["connect"]["connector_name"] = "team-shadow-outbox"
    data["system"]["connect"]["slot_name"] = "team_shadow_outbox"
    as_application = CdcConnectorAdmin(parse_plan(data), {}, URL).config()

    shadow = shadow_config(plan_with(RENAMED))

    heartbeat = {"heartbeat.action.query", "table.include.list"}
    assert {k: v for k, v in shadow.items() if k not in heartbeat} == {
        k: v for k, v in as_application.items() if k not in heartbeat
    }
    assert shadow["table.include.list"] == (
        "store.followups,public.team_shadow_outbox_heartbeat,public.team_shadow_outbox_signal"
    )


def test_the_shadow_connector_routes_by_its_prefix_with_cutovers_headers() -> None:
    config = shadow_config(plan_with(RENAMED))

    assert config["transforms.outbox.route.topic.replacement"] == "team.followup.${routedByValue}"
    assert config["transforms.outbox.table.fields.additional.placement"] == (
        "kind:header:type,correlation_id:header:correlation_id,"
        "causation_id:header:causation_id,aggregate_version:header:aggregate_version"
    )
    assert (config["slot.name"], config["publication.name"]) == (
        "team_shadow_outbox",
        "team_shadow_outbox_pub",
    )
    assert config["snapshot.mode"] == "no_data"


def test_the_shadow_connectors_heartbeat_never_refreshes_the_applications() -> None:
    plan = plan_with({})
    shadow = shadow_config(plan)
    application = CdcConnectorAdmin(plan, {}, URL).config()

    assert "public.cutover_shadow_outbox_heartbeat" in str(shadow["heartbeat.action.query"])
    assert "public.debezium_heartbeat" in str(application["heartbeat.action.query"])
    assert "debezium_heartbeat" not in str(shadow["heartbeat.action.query"])


def test_the_shadow_connector_reads_the_database_it_is_given() -> None:
    config = shadow_config(plan_with({"database": {"url_env": "SHADOW_DB_URL"}}), SHADOW_URL)

    assert (config["database.hostname"], config["database.port"]) == ("shadow-db.example", "5434")
    assert config["database.dbname"] == "shadow_store"


def test_the_applications_connector_is_unchanged_by_the_block() -> None:
    assert application_connector(plan_with({})) == application_connector(plan_with(None))


# ---------------------------------------------------------------------- phase 3 applies it
def shadow_admin(ports: Ports) -> FakeConnectorAdmin:
    assert isinstance(ports.shadow_connector, FakeConnectorAdmin)
    return ports.shadow_connector


def test_entering_dual_write_applies_the_declared_shadow_outbox_connector(
    make_runner: Any, ports: Ports
) -> None:
    runner: Runner = make_runner(pl=plan_with({}))

    runner.advance(target=2)
    assert not shadow_admin(ports).applied
    runner.advance(target=3)

    assert shadow_admin(ports).applied
    assert set(ports.modes.get_modes().values()) == {Mode.DUAL}


def test_without_the_block_dual_write_applies_no_shadow_connector(
    runner: Runner, ports: Ports
) -> None:
    runner.advance(target=3)

    assert not shadow_admin(ports).applied


def test_leaving_dual_write_deletes_the_shadow_outbox_connector(
    make_runner: Any, ports: Ports
) -> None:
    runner: Runner = make_runner(pl=plan_with({}))
    runner.advance(target=3)

    runner.rollback()

    assert not shadow_admin(ports).applied
    assert ports.connector.applied  # type: ignore[attr-defined]  # the application's stays


def test_a_failed_shadow_connector_undoes_the_entry_and_stays_in_broker(
    make_runner: Any, ports: Ports
) -> None:
    runner: Runner = make_runner(pl=plan_with({}))
    runner.advance(target=2)
    shadow_admin(ports).fail_apply = "shadow_outbox.table shadow.outbox does not exist"

    with pytest.raises(StepFailed, match=r"shadow\.outbox does not exist"):
        runner.advance(target=3)

    assert runner.state().phase == 2
    assert set(ports.modes.get_modes().values()) <= {Mode.SYNC}


# ------------------------------------------------------------------------------- the purge
def test_purge_shadow_without_the_block_is_one_line_naming_it(tmp_path: Any) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text(SAMPLE.read_text())
    config = OutboxCommandConfig(path, stdout=io.StringIO(), environ={})

    with pytest.raises(OutboxConfigError, match="no shadow_outbox block"):
        outbox_purge(config, "7d", shadow=True)


def test_purge_shadow_names_the_blocks_database_variable(tmp_path: Any) -> None:
    data: dict[str, Any] = yaml.safe_load(SAMPLE.read_text())
    data["shadow_outbox"] = {"database": {"url_env": "SHADOW_DB_URL"}}
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(data))
    config = OutboxCommandConfig(path, stdout=io.StringIO(), environ={"LEGACY_DATABASE_URL": URL})

    with pytest.raises(OutboxConfigError, match=r"SHADOW_DB_URL is not set \(shadow_outbox\."):
        outbox_purge(config, "7d", shadow=True)
