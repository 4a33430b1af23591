"""Every topic a plan uses is known from the plan (brokers create none on first use), and
``cutover topics list|diff|ensure`` creates the missing ones with a fake admin."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import yaml

from cutover_common.errors import InvalidInput
from cutover_common.exit_codes import ExitCode
from cutover_common.topics import TopicSpecValue, missing_topics
from phases.commands import CommandConfig
from phases.fakes import FakeTopicAdmin, fake_ports
from phases.plan import Plan, parse_plan
from phases.plan_topics import plan_topics
from phases.ports import Ports
from phases.runner import Runner
from phases.topics_commands import topics_diff, topics_ensure, topics_list
from tests.unit.phases.conftest import SAMPLE


def _names(plan: Plan) -> list[str]:
    return [t.spec.name for t in plan_topics(plan)]


def test_the_plan_names_context_dead_letter_canary_and_connector_topics(plan: Plan) -> None:
    names = _names(plan)

    assert names[:5] == [f"outbox.event.{c}" for c in plan.contexts]
    assert "cutover.shadow.dlq" in names
    assert "outbox.event.cutover_canary" in names
    assert "__debezium-heartbeat.cutover-outbox" in names
    assert "cutover-outbox.public.debezium_heartbeat" in names
    assert len(names) == len(set(names))


def test_context_topics_keep_their_partitions_and_retention(plan: Plan) -> None:
    order = plan_topics(plan)[0].spec

    assert order == TopicSpecValue("outbox.event.order", 6, 1, 604800000)


def test_support_topics_take_the_contexts_replication_factor() -> None:
    raw = yaml.safe_load(SAMPLE.read_text())
    raw["contexts"]["order"]["topic"]["replication_factor"] = 3
    plan = parse_plan(raw)

    dlq = next(t.spec for t in plan_topics(plan) if t.spec.name.endswith(".dlq"))

    assert (dlq.partitions, dlq.replication_factor) == (1, 3)


def test_each_context_group_gets_its_dead_letter_topic() -> None:
    raw = yaml.safe_load(SAMPLE.read_text())
    raw["contexts"]["payment"]["consumer_group"] = "team.payments"

    names = _names(parse_plan(raw))

    assert {"team.payments.dlq", "cutover.shadow.dlq"} <= set(names)


def test_a_shadow_outbox_adds_its_connectors_topics() -> None:
    raw = yaml.safe_load(SAMPLE.read_text())
    raw["shadow_outbox"] = {"connector_name": "so", "slot_name": "so_slot"}

    names = _names(parse_plan(raw))

    assert {"__debezium-heartbeat.so", "so.public.so_slot_heartbeat"} <= set(names)


def test_missing_topics_are_those_not_existing_once_each() -> None:
    specs = [TopicSpecValue("a", 1), TopicSpecValue("b", 2), TopicSpecValue("a", 3)]

    assert missing_topics(specs, {"b"}) == [TopicSpecValue("a", 1)]


def test_entering_phase_two_creates_every_topic_of_the_plan(
    runner: Runner, ports: Ports, plan: Plan
) -> None:
    runner.advance(target=2)

    assert set(_names(plan)) <= ports.topics.existing_topics()


# --- the commands -------------------------------------------------------------------------


def _config(tmp_path: Path, *, as_json: bool = False) -> CommandConfig:
    return CommandConfig(plan_path=SAMPLE, json=as_json, stdout=io.StringIO())


def _out(config: CommandConfig) -> str:
    out = config.stdout
    assert isinstance(out, io.StringIO)
    return out.getvalue()


def test_diff_reports_missing_topics_then_ensure_creates_them(tmp_path: Path) -> None:
    admin = FakeTopicAdmin()
    config = _config(tmp_path)

    assert topics_diff(config, admin=admin) == ExitCode.DRIFT
    assert "missing: outbox.event.order (events of context order)" in _out(config)
    assert topics_ensure(_config(tmp_path), admin=admin) == ExitCode.OK
    assert topics_diff(again := _config(tmp_path), admin=admin) == ExitCode.OK
    assert "every topic the plan uses exists" in _out(again)
    assert admin.topics["outbox.event.order"].partitions == 6


def test_ensure_creates_only_the_missing_and_never_alters_an_existing_topic(
    tmp_path: Path,
) -> None:
    admin = FakeTopicAdmin()
    admin.topics["outbox.event.order"] = TopicSpecValue("outbox.event.order", 2)
    config = _config(tmp_path, as_json=True)

    topics_ensure(config, admin=admin)

    created = json.loads(_out(config))["created"]
    assert "outbox.event.order" not in created and "cutover.shadow.dlq" in created
    assert admin.topics["outbox.event.order"].partitions == 2


def test_dry_run_creates_nothing(tmp_path: Path) -> None:
    admin = FakeTopicAdmin()
    config = _config(tmp_path)

    assert topics_ensure(config, admin=admin, dry_run=True) == ExitCode.OK

    assert admin.topics == {}
    assert "would create: outbox.event.order" in _out(config)


def test_extra_topics_are_created_with_their_partitions(tmp_path: Path) -> None:
    admin = FakeTopicAdmin()

    topics_ensure(_config(tmp_path), admin=admin, extra=["shadow.event.author:3", "x.y"])

    assert (admin.topics["shadow.event.author"].partitions, admin.topics["x.y"].partitions) == (
        3,
        1,
    )


@pytest.mark.parametrize("bad", ["", ":3", "a:0", "a:x", "a:-1"])
def test_a_malformed_extra_topic_is_invalid_input(tmp_path: Path, bad: str) -> None:
    with pytest.raises(InvalidInput, match="NAME or NAME:PARTITIONS"):
        topics_ensure(_config(tmp_path), admin=FakeTopicAdmin(), extra=[bad])


def test_list_says_what_each_topic_is_for_and_whether_it_exists(tmp_path: Path) -> None:
    admin = FakeTopicAdmin()
    admin.topics["cutover.shadow.dlq"] = TopicSpecValue("cutover.shadow.dlq", 1)
    config = _config(tmp_path, as_json=True)

    assert topics_list(config, admin=admin) == ExitCode.OK

    rows = {r["name"]: r for r in json.loads(_out(config))["topics"]}
    assert rows["cutover.shadow.dlq"]["exists"] is True
    assert rows["outbox.event.order"]["exists"] is False
    assert rows["outbox.event.order"]["purpose"] == "events of context order"


def test_the_fake_ports_start_without_topics() -> None:
    assert fake_ports().topics.existing_topics() == set()
