"""``cutover connectors`` against the REAL worker: apply/diff/validate/status, and no password leaks."""

from __future__ import annotations

import io
import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner
from confluent_kafka import Consumer

from cdc.cli import connectors
from cdc.client import ConnectClient
from cdc.debezium import OutboxOptions, build_postgres_config
from cdc.errors import EXIT_DRIFT, EXIT_INVALID_CONFIG, EXIT_NOT_FOUND
from cdc.models import RUNNING, STOPPED
from cdc.outbox import decode_outbox, to_envelope
from cdc.reconcile import exactly_once_available
from cutover_common.errors import CutoverError
from rehearsal.stack.endpoints import Endpoints
from tests.integration.cdc.conftest import options_for

pytestmark = pytest.mark.integration


@dataclass
class Ran:
    exit_code: int
    stdout: str
    output: str


def cli(endpoints: Endpoints, env: dict[str, str], logs: io.StringIO, *args: str) -> Ran:
    """Run like ``cutover connectors``: toolkit errors become their exit code and one line."""
    result = CliRunner(env=env).invoke(
        connectors,
        ["--url", endpoints.connect_url, "--log-level", "DEBUG", *args],
        obj={"log_stream": logs},
    )
    exc = result.exception
    if isinstance(exc, CutoverError):
        return Ran(exc.exit_code, result.stdout, result.output + exc.one_line())
    if exc is not None and not isinstance(exc, SystemExit):
        raise exc
    return Ran(result.exit_code, result.stdout, result.output)


def desired_yaml(
    path: Path,
    name: str,
    endpoints: Endpoints,
    db: str,
    *,
    state: str = "running",
    heartbeat_ms: int = 1000,
) -> Path:
    slot = name.replace("-", "_")
    path.write_text(
        f"""
connectors:
  {name}:
    state: {state}
    debezium_postgres:
      database: {{hostname: 127.0.0.1, port: {endpoints.pg_port}, user: {endpoints.pg_user},
                 dbname: {db}, password_env: IT_CDC_PG_PASSWORD}}
      topic_prefix: {slot}
      slot_name: {slot}
      publication_name: {slot}
      heartbeat: {{interval_ms: {heartbeat_ms}}}
"""
    )
    return path


def test_cli_apply_diff_status_validate_and_no_password_anywhere(
    client: ConnectClient, endpoints: Endpoints, captured_db: str, unique: str, tmp_path: Path
) -> None:
    password = endpoints.pg_password.reveal()
    env = {"IT_CDC_PG_PASSWORD": password, "IT_CDC_DSN": endpoints.dsn(captured_db)}
    logs = io.StringIO()
    name = f"it-cli-{unique}"
    client.created.add(name)  # type: ignore[attr-defined]  # cleaned up by the fixture
    path = desired_yaml(tmp_path / "c.yaml", name, endpoints, captured_db)
    outputs: list[str] = []

    def run(*args: str) -> Ran:
        ran = cli(endpoints, env, logs, *args)
        outputs.append(ran.output)
        return ran

    assert run("diff", str(path)).exit_code == EXIT_DRIFT
    assert run("apply", str(path), "--dry-run").exit_code == EXIT_DRIFT
    assert name not in client.list_connectors()
    applied = run("apply", str(path), "--json")
    assert applied.exit_code == 0, applied.output
    assert json.loads(applied.stdout)["performed"] == [f"create {name}"]
    client.wait_for(name, RUNNING, timeout_s=90)
    assert run("diff", str(path)).exit_code == 0

    # healthy once Debezium has recorded its first heartbeat (a second or two after RUNNING;
    # until then status says "heartbeat: no heartbeat recorded" and exits non-zero)
    deadline = time.monotonic() + 60
    status = run("status", name, "--dsn-env", "IT_CDC_DSN", "--json")
    while status.exit_code != 0 and time.monotonic() < deadline:
        time.sleep(0.5)
        status = run("status", name, "--dsn-env", "IT_CDC_DSN", "--json")
    assert status.exit_code == 0, status.output
    assert json.loads(status.stdout)["status"]["tasks"][0]["state"] == RUNNING
    listed = json.loads(run("list", "--json").stdout)
    assert name in {row["name"] for row in listed}
    assert run("list").exit_code == 0

    changed = desired_yaml(
        tmp_path / "c2.yaml", name, endpoints, captured_db, state="stopped", heartbeat_ms=2000
    )
    drift = run("diff", str(changed))
    assert drift.exit_code == EXIT_DRIFT
    assert "~ heartbeat.interval.ms: '1000' -> '2000'" in drift.stdout
    assert "state RUNNING -> STOPPED" in drift.stdout
    assert run("apply", str(changed)).exit_code == 0
    assert client.wait_for(name, STOPPED, timeout_s=60).tasks == ()
    assert client.get_config(name)["heartbeat.interval.ms"] == "2000"
    assert run("offsets", name, "--json").exit_code == 0

    wrong = {"IT_CDC_PG_PASSWORD": f"wrong-{uuid.uuid4().hex}"}
    bad = cli(endpoints, wrong, logs, "validate", str(path), "--json")
    outputs.append(bad.output)
    assert bad.exit_code == EXIT_INVALID_CONFIG
    errors = json.loads(bad.stdout)[name]["errors"]
    assert "password authentication failed" in " ".join(errors["database.hostname"])
    assert wrong["IT_CDC_PG_PASSWORD"] not in bad.output

    missing = run("status", f"it-missing-{unique}")
    assert missing.exit_code == EXIT_NOT_FOUND
    assert f"it-missing-{unique}" in missing.output

    assert client.get_config(name)["database.password"] == password  # the worker has it ...
    everything = "\n".join([*outputs, logs.getvalue()])
    assert "connect.call" in logs.getvalue()
    assert password not in everything  # ... and no output, log line or error shows it


def test_outbox_events_flow_through_the_router_with_exactly_once(
    client: ConnectClient, endpoints: Endpoints, captured_db: str, unique: str
) -> None:
    name = f"it-outbox-{unique}"
    opts = options_for(
        endpoints,
        captured_db,
        name,
        exactly_once=True,
        outbox=OutboxOptions(topic_prefix=f"it{unique}.outbox"),
    )
    config = build_postgres_config(opts)
    assert exactly_once_available(client, config, name)
    client.create_connector(name, config)
    client.wait_for(name, RUNNING, timeout_s=90)
    event_id, order_id = str(uuid.uuid4()), str(uuid.uuid4())
    with psycopg.connect(endpoints.dsn(captured_db), autocommit=True) as conn:
        conn.execute(
            "insert into outbox (id, aggregatetype, aggregateid, type, payload, correlation_id, "
            "causation_id) values (%s, 'order', %s, 'order.created', %s, 'corr-it', 'cause-it')",
            (event_id, order_id, json.dumps({"order_id": order_id, "total": "10.00"})),
        )
    msg = consume_one(endpoints, f"it{unique}.outbox.order")
    event = decode_outbox(
        msg.key(),
        msg.value(),
        msg.headers(),
        topic=msg.topic(),
        topic_prefix=f"it{unique}.outbox",
        timestamp_ms=msg.timestamp()[1],
    )
    assert (event.id, event.aggregate_id, event.type) == (event_id, order_id, "order.created")
    assert (event.correlation_id, event.causation_id) == ("corr-it", "cause-it")
    # this outbox table has no aggregate_version column: the router (missing = ignore)
    # sends the row without the header, which decodes as "not versioned"
    assert event.aggregate_version is None
    env = to_envelope(event)
    assert env.data == {"order_id": order_id, "total": "10.00"}
    assert env.subject == order_id and env.source == "/outbox/order"
    assert env.aggregate_version is None


def consume_one(endpoints: Endpoints, topic: str, timeout_s: float = 90) -> Any:
    consumer = Consumer(
        {
            "bootstrap.servers": endpoints.bootstrap_servers,
            "group.id": f"it-cdc-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
            "topic.metadata.refresh.interval.ms": 1000,
        }
    )
    consumer.subscribe([topic])
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and not msg.error():
                return msg
    finally:
        consumer.close()
    raise AssertionError(f"nothing arrived on {topic}")
