"""The plan's ``connectors:`` block: the one description of its outbox connectors, derived
from the older fields when absent, built by one function for ``cutover advance`` and
``cutover connectors diff|apply --plan``; ``advance`` refuses a change that would republish
a running connector's outbox."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from cdc.cli import connectors
from cdc.client import ConnectClient
from cdc.desired import DesiredConnector
from cdc.errors import EXIT_CONFLICT, EXIT_DRIFT, DesiredStateError, ResnapshotRefused
from cdc.fake import FakeConnectWorker
from cutover.state.commands import init
from cutover_common.errors import CutoverError, EnvironmentVariableMissing
from phases import commands
from phases.adapters import CdcConnectorAdmin
from phases.commands import CommandConfig
from phases.errors import PlanInvalid
from phases.fakes import FakeConnectorAdmin, fake_ports
from phases.outbox_connectors import (
    application_connector,
    connector_config,
    shadow_outbox_connector,
)
from phases.plan import Plan, parse_plan
from phases.plan_connectors import merge_desired, plan_desired
from phases.ports import Ports
from phases.store import SqlModeStore
from tests.unit.phases.conftest import SAMPLE

URL = "postgresql+psycopg://app:url-pw@db.example:5433/shop"
ENV = {"LEGACY_DATABASE_URL": URL, "OUTBOX_CONNECTOR_PW": "block-pw"}

BLOCK = {
    "outbox": {
        "name": "shop-outbox",
        "slot": "shop_outbox",
        "publication": "shop_outbox_publication",
        "topic_prefix": "shop",
        "snapshot_mode": "no_data",
        "heartbeat": {"interval_ms": 2500, "table": "public.shop_heartbeat"},
        "password_env": "OUTBOX_CONNECTOR_PW",
    },
    "shadow_outbox": {"name": "shop-shadow-outbox", "topic_prefix": "shop-shadow"},
}


def sample_data() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(SAMPLE.read_text())
    return data


def plan_with(connectors: dict[str, Any] | None, **top: Any) -> Plan:
    data = sample_data()
    if connectors is not None:
        data["connectors"] = connectors
    data.update(top)
    return parse_plan(data)


def issues(connectors: dict[str, Any], **top: Any) -> dict[str, str]:
    with pytest.raises(PlanInvalid) as info:
        plan_with(connectors, **top)
    return {i.path: i.message for i in info.value.issues}


# ------------------------------------------------------------------------ derivation
def test_without_the_block_the_connector_is_derived_from_system_connect() -> None:
    config = connector_config(application_connector(plan_with(None)), URL, ENV)

    assert (config["topic.prefix"], config["slot.name"], config["publication.name"]) == (
        "cutover-outbox",
        "cutover_outbox",
        "cutover_outbox_pub",
    )
    assert config["snapshot.mode"] == "no_data"
    assert config["heartbeat.interval.ms"] == "5000"
    assert "public.debezium_heartbeat" in str(config["heartbeat.action.query"])
    assert config["database.password"].reveal() == "url-pw"  # type: ignore[union-attr]


def test_without_the_block_the_shadow_connector_is_derived_from_shadow_outbox() -> None:
    connector = shadow_outbox_connector(plan_with(None, shadow_outbox={"slot_name": "team_so"}))

    assert connector is not None
    assert (connector.name, connector.server_prefix, connector.publication_name) == (
        "cutover-shadow-outbox",
        "cutover-shadow-outbox",
        "team_so_pub",
    )
    assert connector.heartbeat_table == "public.team_so_heartbeat"


def test_a_field_left_out_of_the_block_keeps_the_derived_value() -> None:
    connector = application_connector(plan_with({"outbox": {"topic_prefix": "shop"}}))

    assert (connector.name, connector.slot_name, connector.server_prefix) == (
        "cutover-outbox",
        "cutover_outbox",
        "shop",
    )


# ------------------------------------------------------------------------------ the block
def test_every_field_of_the_block_reaches_the_connect_config() -> None:
    config = connector_config(application_connector(plan_with(BLOCK, shadow_outbox={})), URL, ENV)

    assert {k: config[k] for k in ("topic.prefix", "slot.name", "publication.name")} == {
        "topic.prefix": "shop",
        "slot.name": "shop_outbox",
        "publication.name": "shop_outbox_publication",
    }
    assert config["heartbeat.interval.ms"] == "2500"
    assert "public.shop_heartbeat" in str(config["table.include.list"])
    assert config["database.password"].reveal() == "block-pw"  # type: ignore[union-attr]


def test_the_events_topics_keep_the_kafka_topic_prefix() -> None:
    config = connector_config(application_connector(plan_with(BLOCK, shadow_outbox={})), URL, ENV)

    assert config["transforms.outbox.route.topic.replacement"] == "outbox.event.${routedByValue}"


def test_a_password_env_that_is_not_set_is_named() -> None:
    connector = application_connector(plan_with(BLOCK, shadow_outbox={}))

    with pytest.raises(EnvironmentVariableMissing) as info:
        connector_config(connector, URL, {"LEGACY_DATABASE_URL": URL})

    assert "OUTBOX_CONNECTOR_PW" in str(info.value)
    assert "connectors.outbox.password_env" in str(info.value)


def test_an_inline_password_in_the_block_is_refused() -> None:
    assert "connectors.outbox.password" in issues({"outbox": {"password": "hunter2"}})


def test_an_unknown_snapshot_mode_is_refused() -> None:
    assert "connectors.outbox.snapshot_mode" in issues({"outbox": {"snapshot_mode": "often"}})


def test_a_shadow_connector_block_needs_the_shadow_outbox_block() -> None:
    assert "connectors.shadow_outbox" in issues({"shadow_outbox": {"name": "x"}})


def test_the_shadow_connector_may_not_share_the_applications_topic_prefix() -> None:
    found = issues(
        {"outbox": {"topic_prefix": "shop"}, "shadow_outbox": {"topic_prefix": "shop"}},
        shadow_outbox={},
    )
    assert "connectors.outbox.topic_prefix" in found["connectors.shadow_outbox.topic_prefix"]


# ---------------------------------------------------------------------- one builder
def test_advance_and_connectors_apply_build_the_same_config() -> None:
    plan = plan_with(BLOCK, shadow_outbox={})

    from_plan = {p.desired.name: p.desired.config for p in plan_desired(plan, ENV)}

    assert from_plan["shop-outbox"] == CdcConnectorAdmin(plan, ENV, URL).config()
    shadow = shadow_outbox_connector(plan)
    assert from_plan["shop-shadow-outbox"] == CdcConnectorAdmin(plan, ENV, URL, shadow).config()


def test_a_desired_file_may_not_describe_a_connector_the_plan_owns() -> None:
    owned = [DesiredConnector("shop-outbox", {"connector.class": "x"})]

    with pytest.raises(DesiredStateError) as info:
        merge_desired(owned, owned, source="connectors.yaml")

    assert "connectors.shop-outbox: owned by the plan" in str(info.value)


def test_a_desired_file_adds_the_connectors_the_plan_does_not_own() -> None:
    owned = [DesiredConnector("shop-outbox", {"connector.class": "x"})]
    other = [DesiredConnector("audit-cdc", {"connector.class": "y"})]

    merged = merge_desired(owned, other, source="connectors.yaml")

    assert [d.name for d in merged] == ["shop-outbox", "audit-cdc"]


# ---------------------------------------------------------------------- advance refuses
class Factory:
    def __init__(self) -> None:
        self.ports: Ports | None = None

    def __call__(self, plan: Plan, modes: SqlModeStore) -> Ports:
        if self.ports is None:
            self.ports = fake_ports(modes)  # type: ignore[arg-type]
        return self.ports


@pytest.fixture
def refusing(tmp_path: Path) -> tuple[CommandConfig, FakeConnectorAdmin]:
    factory = Factory()
    config = CommandConfig(
        plan_path=SAMPLE,
        reports_dir=tmp_path / "reports",
        actor="ci@test",
        stdout=io.StringIO(),
        ports_factory=factory,
        environ={"LEGACY_DATABASE_URL": f"sqlite:///{tmp_path / 'legacy.db'}"},
    )
    assert init(config) == 0
    factory.ports = fake_ports()
    connector = factory.ports.connector
    assert isinstance(connector, FakeConnectorAdmin)
    connector.resnapshot = ["changing topic.prefix from a to b republishes every outbox row"]
    return config, connector


def test_advance_refuses_a_resnapshot_before_anything_changes(
    refusing: tuple[CommandConfig, FakeConnectorAdmin],
) -> None:
    config, connector = refusing

    with pytest.raises(ResnapshotRefused) as info:
        commands.advance(config, to=2)

    assert info.value.exit_code == 10
    assert "changing topic.prefix from a to b" in str(info.value)
    assert connector.applied is False


def test_advance_with_allow_resnapshot_applies_the_connector(
    refusing: tuple[CommandConfig, FakeConnectorAdmin],
) -> None:
    config, connector = refusing

    assert commands.advance(config, to=2, allow_resnapshot=True) == 0
    assert connector.applied is True


# ------------------------------------------------------------- cutover connectors --plan
def connectors_cli(worker: FakeConnectWorker, *args: str) -> tuple[int, str]:
    client = ConnectClient(worker, sleep=lambda _s: None)
    obj = {"client": client, "log_stream": io.StringIO()}
    result = CliRunner(env=ENV).invoke(connectors, list(args), obj=obj)
    exc = result.exception
    if isinstance(exc, CutoverError):
        return exc.exit_code, result.output + exc.one_line()
    return result.exit_code, result.output


def test_connectors_diff_with_the_plan_shows_the_plans_connector_to_create() -> None:
    code, output = connectors_cli(FakeConnectWorker(), "diff", "--plan", str(SAMPLE))

    assert code == EXIT_DRIFT
    assert "+ cutover-outbox (create)" in output


def test_connectors_apply_with_the_plan_refuses_another_prefix_on_connect() -> None:
    worker = FakeConnectWorker()
    client = ConnectClient(worker, sleep=lambda _s: None)
    plan = plan_with(None)
    live = CdcConnectorAdmin(plan, ENV, URL).config()
    client.create_connector("cutover-outbox", {**live, "topic.prefix": "team-prefix"})

    code, output = connectors_cli(worker, "apply", "--plan", str(SAMPLE), "--dry-run")

    assert code == EXIT_CONFLICT
    assert "changing topic.prefix from team-prefix to cutover-outbox" in output
    assert client.get_config("cutover-outbox")["topic.prefix"] == "team-prefix"


def test_connectors_diff_without_a_file_or_a_plan_names_the_missing_plan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CUTOVER_PLAN", raising=False)

    code, output = connectors_cli(FakeConnectWorker(), "diff")

    assert code == 2
    assert "cutover-plan.yaml" in output


def test_no_context_may_consume_the_canarys_topic() -> None:
    data = sample_data()
    data["contexts"]["order"]["topic"]["name"] = "outbox.event.cutover_canary"

    with pytest.raises(PlanInvalid) as info:
        parse_plan(data)

    found = {i.path: i.message for i in info.value.issues}
    assert "canary" in found["contexts.order.topic.name"]
