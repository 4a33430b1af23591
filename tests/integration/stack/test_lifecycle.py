"""Lifecycle of the local stack, on a second, isolated stack (own state dir and ports),
so that stopping and killing components does not disturb the shared one."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest
from confluent_kafka import Consumer, Producer

from rehearsal.stack import manager, postgres
from rehearsal.stack.endpoints import load_endpoints
from rehearsal.stack.kafka import kafka_service
from rehearsal.stack.topology import Topology, load_topology
from tests.integration.topics import ensure_topics


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def isolated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    base = load_topology()
    topo = replace(
        base,
        state_dir=tmp_path_factory.mktemp("stack"),
        postgres=replace(base.postgres, port=_free_port()),
        kafka=replace(base.kafka, port=_free_port(), controller_port=_free_port()),
        connect=replace(base.connect, port=_free_port(), group_id="cutover-connect-isolated"),
    )
    yield topo
    manager.down(topo, wipe=True)


def _stack_pids(topo: Topology) -> list[int]:
    """Every live process whose command line mentions the isolated state dir."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if str(topo.state_dir).encode() in (proc / "cmdline").read_bytes():
                    found.append(int(proc.name))
            except OSError:
                continue
    return found


def _produce(topo: Topology, topic: str, value: bytes) -> None:
    producer = Producer({"bootstrap.servers": topo.bootstrap_servers, "acks": "all"})
    producer.produce(topic, value=value, key=b"k")
    assert producer.flush(30) == 0


def _read_all(topo: Topology, topic: str) -> list[bytes]:
    consumer = Consumer(
        {
            "bootstrap.servers": topo.bootstrap_servers,
            "group.id": uuid.uuid4().hex,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    values: list[bytes] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is not None and not msg.error():
            values.append(msg.value() or b"")
        elif values:
            break
    consumer.close()
    return values


def test_cold_up_starts_every_component_healthy_and_reports_timing(isolated: Topology) -> None:
    report = manager.up(isolated)

    assert report.healthy
    assert {c.name for c in report.components if c.started} == {"postgres", "kafka", "connect"}
    assert report.seconds < 90


def test_second_up_is_a_no_op_that_reports_what_runs(isolated: Topology) -> None:
    before = {c.name: c.pid for c in manager.status(isolated).components}

    report = manager.up(isolated)

    assert report.healthy
    assert not any(c.started for c in report.components)
    assert {c.name: c.pid for c in report.components} == before


def test_kill_9_of_kafka_then_up_keeps_the_data(isolated: Topology) -> None:
    manager.up(isolated)
    topic = f"durable-{uuid.uuid4().hex[:8]}"
    ensure_topics(isolated.bootstrap_servers, {topic: 1})  # the broker creates none on use
    _produce(isolated, topic, b"survives")
    pid = kafka_service(isolated).process(isolated).pid()
    assert pid is not None

    os.kill(pid, signal.SIGKILL)
    time.sleep(1)
    assert not manager.status(isolated).healthy
    report = manager.up(isolated)

    assert report.healthy
    assert [c.name for c in report.components if c.started] == ["kafka"]
    assert _read_all(isolated, topic) == [b"survives"]


def test_kill_9_of_postgres_then_up_keeps_the_data(isolated: Topology) -> None:
    manager.up(isolated)
    ep = load_endpoints(isolated)
    with psycopg.connect(ep.dsn(), autocommit=True) as conn:
        conn.execute("create table if not exists durable (v text)")
        conn.execute("insert into durable values ('survives')")
    pid = postgres.postmaster_pid(postgres.paths(isolated))
    assert pid is not None

    os.kill(pid, signal.SIGKILL)
    time.sleep(1)
    report = manager.up(isolated)

    assert report.healthy
    with psycopg.connect(ep.dsn(), autocommit=True) as conn:
        assert conn.execute("select v from durable").fetchall() == [("survives",)]


def test_down_leaves_no_process_of_the_stack(isolated: Topology) -> None:
    manager.up(isolated)
    assert _stack_pids(isolated)

    stopped = manager.down(isolated)

    assert set(stopped) == {"connect", "kafka", "postgres"}
    deadline = time.monotonic() + 10
    while _stack_pids(isolated) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _stack_pids(isolated) == []
    assert not manager.status(isolated).healthy


def test_cli_reports_an_occupied_port_in_one_line_and_exits_non_zero(isolated: Topology) -> None:
    manager.down(isolated)
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        env = {
            **os.environ,
            "CUTOVER_STATE_DIR": str(isolated.state_dir),
            "CUTOVER_PG_PORT": str(isolated.postgres.port),
            "CUTOVER_KAFKA_PORT": str(port),
            "CUTOVER_KAFKA_CONTROLLER_PORT": str(isolated.kafka.controller_port),
            "CUTOVER_CONNECT_PORT": str(isolated.connect.port),
        }
        proc = subprocess.run(
            [sys.executable, "-m", "phases.cli", "stack", "up"],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    nothing_started = not any(c.running for c in manager.status(isolated).components)
    manager.down(isolated)

    assert proc.returncode == 1
    error_lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(error_lines) == 1
    assert f"port {port} needed by kafka is already in use" in error_lines[0]
    assert "CUTOVER_KAFKA_PORT" in error_lines[0]
    assert nothing_started
