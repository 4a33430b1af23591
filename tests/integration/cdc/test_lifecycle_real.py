"""Failure and recovery against the REAL worker: broken password, offsets reset, health."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner
from confluent_kafka import Consumer
from psycopg import sql

from cdc.cli import connectors
from cdc.client import ConnectClient
from cdc.debezium import build_postgres_config
from cdc.decode import ChangeEvent, decode
from cdc.errors import InvalidConnectorConfig
from cdc.health import PsycopgSlotProbe, check_health
from cdc.models import FAILED, PAUSED, RUNNING, STOPPED
from cutover_common.secrets import Secret
from rehearsal.stack.endpoints import Endpoints
from tests.integration.cdc.conftest import options_for

pytestmark = pytest.mark.integration


@pytest.fixture
def it_role(endpoints: Endpoints) -> Iterator[tuple[str, Secret]]:
    """A login role of our own (so its password can be broken), dropped after the database."""
    role = f"it_role_{uuid.uuid4().hex[:8]}"
    password = Secret(f"first-{uuid.uuid4().hex}")
    with psycopg.connect(endpoints.dsn("postgres"), autocommit=True) as conn:
        conn.execute(
            sql.SQL("create role {} login superuser replication password {}").format(
                sql.Identifier(role), sql.Literal(password.reveal())
            )
        )
    yield role, password
    with psycopg.connect(endpoints.dsn("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("drop role if exists {}").format(sql.Identifier(role)))


def wait_task_state(client: ConnectClient, name: str, state: str, timeout_s: float = 90) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = client.status(name)
        if status.tasks and all(t.state == state for t in status.tasks):
            return status
        time.sleep(0.5)
    raise AssertionError(f"tasks of {name} never reached {state}: {client.status(name).summary()}")


def test_broken_password_fails_tasks_and_restart_only_failed_brings_them_back(
    it_role: tuple[str, Secret],
    client: ConnectClient,
    endpoints: Endpoints,
    captured_db: str,
    unique: str,
) -> None:
    role, password = it_role
    name = f"it-pw-{unique}"
    config = build_postgres_config(options_for(endpoints, captured_db, name))
    # errors.max.retries=0: a connection error fails the task (Debezium retries forever by default)
    config.update({"database.user": role, "database.password": password, "errors.max.retries": "0"})
    client.create_connector(name, config)
    client.wait_for(name, RUNNING, timeout_s=90)
    probe = PsycopgSlotProbe(endpoints.dsn(captured_db))
    slot_name = str(config["slot.name"])
    wait_slot_active(probe, slot_name)

    # break the password under the running connector, and cut its replication connection
    new_password = Secret(f"second-{uuid.uuid4().hex}")
    with psycopg.connect(endpoints.dsn("postgres"), autocommit=True) as conn:
        conn.execute(
            sql.SQL("alter role {} password {}").format(
                sql.Identifier(role), sql.Literal(new_password.reveal())
            )
        )
        conn.execute(
            "select pg_terminate_backend(active_pid) from pg_replication_slots "
            "where slot_name = %s and active_pid is not null",
            (slot_name,),
        )
    failed = wait_task_state(client, name, FAILED, timeout_s=60)
    assert failed.state == RUNNING  # the connector says RUNNING while its task failed
    assert failed.failed_tasks()[0].trace
    assert not check_health(client, name, probe=probe).ok

    # the old password is now refused by the worker's validation, per field
    with pytest.raises(InvalidConnectorConfig) as info:
        client.put_config(name, config)
    assert "password authentication failed" in " ".join(
        info.value.field_errors["database.hostname"]
    )

    # fix it: the right password, then restart only what failed
    client.put_config(name, {**config, "database.password": new_password})
    result = CliRunner().invoke(
        connectors,
        ["--url", endpoints.connect_url, "restart", name, "--only-failed", "--json"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["connector"] == name
    recovered = client.wait_for(name, RUNNING, timeout_s=90)
    assert [t.state for t in recovered.tasks] == [RUNNING]
    wait_slot_active(probe, slot_name)  # streaming again, with the new password
    for secret in (password.reveal(), new_password.reveal()):
        assert secret not in result.output
        assert secret not in str(info.value)


def wait_slot_active(probe: PsycopgSlotProbe, slot_name: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not ((slot := probe.slot(slot_name)) and slot.active):
        assert time.monotonic() < deadline, f"slot {slot_name} never became active"
        time.sleep(0.5)


def consume_rows(endpoints: Endpoints, topic: str, wanted: int, timeout_s: float = 90) -> list[Any]:
    consumer = Consumer(
        {
            "bootstrap.servers": endpoints.bootstrap_servers,
            "group.id": f"it-cdc-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "topic.metadata.refresh.interval.ms": 1000,
        }
    )
    consumer.subscribe([topic])
    events: list[Any] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(events) < wanted and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None or msg.error():
                continue
            events.append(decode(msg.value(), key=msg.key(), topic=msg.topic()))
    finally:
        consumer.close()
    return events


def test_offsets_reset_on_a_stopped_connector_re_emits_the_captured_rows(
    client: ConnectClient, endpoints: Endpoints, captured_db: str, unique: str
) -> None:
    with psycopg.connect(endpoints.dsn(captured_db), autocommit=True) as conn:
        conn.execute("create table items (id int primary key, name text not null)")
        conn.execute("insert into items values (1, 'a'), (2, 'b'), (3, 'c')")
    name = f"it-off-{unique}"
    opts = options_for(
        endpoints, captured_db, name, outbox=None, tables=("public.items",), snapshot_mode="initial"
    )
    client.create_connector(name, build_postgres_config(opts))
    client.wait_for(name, RUNNING, timeout_s=90)
    topic = f"{opts.topic_prefix}.public.items"
    first = consume_rows(endpoints, topic, 3)
    assert sorted(e.after["id"] for e in first if isinstance(e, ChangeEvent)) == [1, 2, 3]

    deadline = time.monotonic() + 30
    while not client.get_offsets(name).entries and time.monotonic() < deadline:
        time.sleep(0.5)
    offsets = client.get_offsets(name)
    assert offsets.entries[0].partition == {"server": opts.topic_prefix}
    assert "lsn" in (offsets.entries[0].offset or {})

    client.stop(name)
    client.wait_for(name, STOPPED, timeout_s=60)
    assert "altered" in client.alter_offsets(name, offsets.entries).lower()
    assert "reset" in client.reset_offsets(name).lower()
    assert client.get_offsets(name).entries == ()
    client.resume(name)
    client.wait_for(name, RUNNING, timeout_s=90)

    both = consume_rows(endpoints, topic, 6)
    reads = [e for e in both if isinstance(e, ChangeEvent) and e.op == "r"]
    assert sorted(e.after["id"] for e in reads) == [1, 1, 2, 2, 3, 3]
    assert all(e.is_snapshot for e in reads)


def test_health_reports_tasks_slot_lag_and_heartbeat(
    client: ConnectClient, endpoints: Endpoints, captured_db: str, unique: str
) -> None:
    name = f"it-health-{unique}"
    opts = options_for(endpoints, captured_db, name)
    client.create_connector(name, build_postgres_config(opts))
    client.wait_for(name, RUNNING, timeout_s=90)
    probe = PsycopgSlotProbe(endpoints.dsn(captured_db))
    deadline = time.monotonic() + 60
    health = check_health(client, name, probe=probe, heartbeat_table="public.debezium_heartbeat")
    while not health.ok and time.monotonic() < deadline:
        time.sleep(1)
        health = check_health(
            client, name, probe=probe, heartbeat_table="public.debezium_heartbeat"
        )
    assert health.ok, health.reasons
    assert health.reasons == ()
    assert health.slot_name == opts.slot_name
    assert health.slot_active is True
    assert isinstance(health.slot_lag_bytes, int) and health.slot_lag_bytes >= 0
    assert health.heartbeat_age_s is not None and health.heartbeat_age_s < 30
    assert health.task_states == ((0, RUNNING),)

    client.pause(name)
    client.wait_for(name, PAUSED, timeout_s=60)
    paused = check_health(client, name, probe=probe, heartbeat_table="public.debezium_heartbeat")
    assert not paused.ok
    assert "connector not running: connector is PAUSED" in paused.reasons
    assert "connector not running: task 0 is PAUSED" in paused.reasons
