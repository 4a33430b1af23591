"""The plan owns its connector, on the real stack: applied by ``cutover connectors apply
--plan``, then ``cutover advance`` 1->2 builds the same connector and publishes nothing twice
(the topic holds exactly one message per outbox row), its signal table published and
``connectors diff --plan`` clean; a plan with another topic prefix is
refused by ``connectors apply`` and leaves the connector on Connect as it was."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine, create_engine, text

from cdc.client import ConnectClient
from cdc.outbox_table import create_table_ddl
from cutover.state.commands import init
from cutover_common.cli import run_cli
from cutover_common.exit_codes import ExitCode
from phases import commands
from phases.adapters import wait_slot_active
from phases.cli import cli
from phases.commands import CommandConfig
from phases.plan import load_plan
from rehearsal.stack.endpoints import Endpoints
from tests.integration.cutover.outbox_stack import topic_size, wait_until
from tests.unit.phases.conftest import SAMPLE

URL_ENV = "PLAN_CONNECTORS_IT_DATABASE_URL"
ROWS = 7


def write_plan(path: Path, endpoints: Endpoints, unique: str, topic_prefix: str) -> Path:
    """The sample plan on the stack, its connector described by a ``connectors:`` block."""
    data: dict[str, Any] = yaml.safe_load(SAMPLE.read_text())
    prefix = f"pc{unique}"
    data["system"]["database"]["url_env"] = URL_ENV
    data["system"]["kafka"] = {"bootstrap_servers": endpoints.bootstrap_servers}
    data["system"]["kafka"]["topic_prefix"] = prefix
    data["system"]["connect"] = {"url": endpoints.connect_url, "heartbeat_interval_ms": 500}
    data["connectors"] = {
        "outbox": {"name": f"pc-{unique}", "slot": f"pc_{unique}", "topic_prefix": topic_prefix}
    }
    for name, ctx in data["contexts"].items():
        ctx["topic"] = {"name": f"{prefix}.{name}", "partitions": 1, "retention_ms": 3600000}
        ctx["consumer_group"] = f"pc-{unique}-{name}"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture
def database(endpoints: Endpoints, fresh_database: str, unique: str) -> Iterator[Engine]:
    """A fresh database with the plan's outbox; the connector and topics removed after."""
    url = endpoints.database_url(fresh_database)
    engine = create_engine(url)
    with engine.begin() as conn:
        for statement in create_table_ddl(load_plan(SAMPLE).outbox.layout()):
            conn.execute(text(statement))
    yield engine
    engine.dispose()
    client = ConnectClient.from_url(endpoints.connect_url)
    if f"pc-{unique}" in client.list_connectors():
        client.delete_connector(f"pc-{unique}")
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": endpoints.bootstrap_servers})
    mine = [t for t in admin.list_topics(timeout=10).topics if f"pc{unique}" in t]
    for future in admin.delete_topics(mine, operation_timeout=30).values() if mine else []:
        future.result()


def connectors_apply(endpoints: Endpoints, plan: Path) -> int:
    return run_cli(
        cli, ["connectors", "--url", endpoints.connect_url, "apply", "--plan", str(plan)]
    )


def outbox_rows(engine: Engine, aggregate_type: str) -> int:
    query = text("SELECT count(*) FROM outbox WHERE aggregatetype = :t")
    with engine.connect() as conn:
        return int(conn.execute(query, {"t": aggregate_type}).scalar_one())


def published(engine: Engine, publication: str) -> set[str]:
    query = text(
        "SELECT schemaname || '.' || tablename FROM pg_publication_tables WHERE pubname = :p"
    )
    with engine.connect() as conn:
        return set(conn.execute(query, {"p": publication}).scalars())


def test_the_plans_connector_survives_advance_and_refuses_a_new_prefix(
    endpoints: Endpoints,
    unique: str,
    database: Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = database.url.render_as_string(hide_password=False)
    monkeypatch.setenv(URL_ENV, url)
    plan_path = write_plan(tmp_path / "plan.yaml", endpoints, unique, f"pc-{unique}")
    client = ConnectClient.from_url(endpoints.connect_url)
    topic = f"pc{unique}.widget"  # not a context's: the plan cannot know it, --topic names it
    ensure = ["topics", "ensure", "--plan", str(plan_path), "--topic", topic]

    assert run_cli(cli, ensure) == 0  # the broker creates no topic on first use
    assert connectors_apply(endpoints, plan_path) == 0
    client.wait_for(f"pc-{unique}", "RUNNING", timeout_s=60)
    wait_slot_active(database, f"pc_{unique}")
    with database.begin() as conn:
        for i in range(ROWS):
            conn.execute(
                text(
                    "INSERT INTO outbox (id, aggregatetype, aggregateid, type, payload) "
                    "VALUES (:id, 'widget', :key, 'widget.made', '{}'::jsonb)"
                ),
                {"id": uuid.uuid4(), "key": f"w{i}"},
            )
    wait_until("the rows on Kafka", lambda: topic_size(endpoints.bootstrap_servers, topic) == ROWS)
    applied = client.get_config(f"pc-{unique}")
    assert applied["topic.prefix"] == f"pc-{unique}"

    config = CommandConfig(
        plan_path=plan_path, stdout=io.StringIO(), environ={URL_ENV: url}, actor="it@test"
    )
    assert init(config) == 0
    assert commands.advance(config, to=1) == 0
    assert commands.advance(config, to=2) == 0

    assert topic_size(endpoints.bootstrap_servers, topic) == ROWS == outbox_rows(database, "widget")
    canaries = outbox_rows(database, "cutover_canary")
    canary_topic = f"pc{unique}.cutover_canary"
    assert canaries >= 1
    assert topic_size(endpoints.bootstrap_servers, canary_topic) == canaries
    assert client.get_config(f"pc-{unique}") == applied
    assert published(database, f"pc_{unique}_pub") >= {f"public.pc_{unique}_signal"}
    diff = ["connectors", "--url", endpoints.connect_url, "diff", "--plan", str(plan_path)]
    assert run_cli(cli, diff) == 0  # what `connectors recover` would add is there already

    moved = write_plan(tmp_path / "moved.yaml", endpoints, unique, f"pc-moved-{unique}")
    capsys.readouterr()
    assert connectors_apply(endpoints, moved) == ExitCode.CONFLICT
    refusal = capsys.readouterr().err
    assert f"changing topic.prefix from pc-{unique} to pc-moved-{unique}" in refusal
    assert "pass --allow-resnapshot" in refusal
    assert client.get_config(f"pc-{unique}") == applied
