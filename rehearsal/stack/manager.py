"""Bring the whole local stack up and down: Postgres, Kafka (KRaft), Kafka Connect + Debezium.

``up`` is idempotent: what already runs is left alone and reported. ``down``
stops exactly the processes ``up`` started (pid files), and keeps data unless
``wipe`` is set.

With ``CUTOVER_STACK=external`` (:func:`rehearsal.stack.endpoints.is_external`) the stack is
not cutover's: ``up`` and ``down`` refuse (:class:`ExternalStackRefusal`) and ``status``
(:func:`external_status`) checks that its endpoints answer, starting nothing.
"""

from __future__ import annotations

import fcntl
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field

import structlog

from rehearsal.stack import connect_auth as auth
from rehearsal.stack import kafka, postgres
from rehearsal.stack.endpoints import Endpoints, is_external, load_endpoints
from rehearsal.stack.errors import ExternalStackRefusal
from rehearsal.stack.jars import ensure_jars, java_binary
from rehearsal.stack.process import ensure_port_free
from rehearsal.stack.topology import Topology

log = structlog.get_logger(__name__)

COMPONENTS = ("postgres", "kafka", "connect")


@dataclass(frozen=True, slots=True)
class ComponentState:
    """One component as ``status`` sees it."""

    name: str
    running: bool
    healthy: bool
    pid: int | None
    address: str
    started: bool = False
    seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class StackReport:
    """What ``up``/``status`` found: each component and the total time taken."""

    components: tuple[ComponentState, ...]
    seconds: float
    jars_fetched: bool = False
    notes: tuple[str, ...] = field(default=())

    @property
    def healthy(self) -> bool:
        return all(c.healthy for c in self.components)

    def to_dict(self) -> dict[str, object]:
        return {
            "healthy": self.healthy,
            "seconds": round(self.seconds, 2),
            "jars_fetched": self.jars_fetched,
            "components": [
                {
                    "name": c.name,
                    "running": c.running,
                    "healthy": c.healthy,
                    "pid": c.pid,
                    "address": c.address,
                    "started": c.started,
                    "seconds": round(c.seconds, 2),
                }
                for c in self.components
            ],
        }


def _timed(fn: object, *args: object) -> tuple[bool, float]:
    start = time.monotonic()
    started = fn(*args)  # type: ignore[operator]
    return bool(started), time.monotonic() - start


@contextmanager
def _locked(topology: Topology) -> Iterator[None]:
    """One ``up``/``down`` at a time per state directory (other callers wait)."""
    topology.state_dir.mkdir(parents=True, exist_ok=True)
    with (topology.state_dir / ".stack.lock").open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def up(topology: Topology, *, connect_auth: bool = False) -> StackReport:
    """Start whatever is not running, wait for health, and report. ``connect_auth`` protects
    Connect's REST API with basic auth from now on (:mod:`rehearsal.stack.connect_auth`)."""
    refuse_external("up")
    with _locked(topology):
        if connect_auth:
            auth.enable(topology)
        return _up(topology)


def _up(topology: Topology) -> StackReport:
    t0 = time.monotonic()
    java_binary()
    postgres.check_state(topology)  # fail on corrupt state or taken ports before starting anything
    kafka.check_storage(topology)
    _check_ports(topology)
    jars, fetched = ensure_jars(topology)
    with ThreadPoolExecutor(max_workers=2) as pool:
        pg_future = pool.submit(_timed, postgres.start, topology)
        kafka_future = pool.submit(_timed, kafka.start_kafka, topology, jars)
        kafka_started, kafka_secs = kafka_future.result()
        pg_started, pg_secs = pg_future.result()  # first: it writes the password Connect reads
        connect_started, connect_secs = _timed(kafka.start_connect, topology, jars)
    timings = {
        "postgres": (pg_started, pg_secs),
        "kafka": (kafka_started, kafka_secs),
        "connect": (connect_started, connect_secs),
    }
    report = status(topology)
    comps = tuple(
        ComponentState(c.name, c.running, c.healthy, c.pid, c.address, *timings[c.name])
        for c in report.components
    )
    result = StackReport(comps, time.monotonic() - t0, jars_fetched=fetched)
    log.info(
        "stack up", seconds=round(result.seconds, 1), started=[c.name for c in comps if c.started]
    )
    return result


def _check_ports(topology: Topology) -> None:
    """Raise :class:`PortInUseError` for a port a not-running component needs."""
    host = topology.host
    if not postgres.running(None, postgres.paths(topology)):
        ensure_port_free("postgres", host, topology.postgres.port)
    if kafka.kafka_service(topology).process(topology).pid() is None:
        ensure_port_free("kafka", host, topology.kafka.port)
        ensure_port_free("kafka", host, topology.kafka.controller_port)
    if kafka.connect_service(topology).process(topology).pid() is None:
        ensure_port_free("connect", host, topology.connect.port)


def status(topology: Topology) -> StackReport:
    """What runs, with health checks, without starting anything (an external stack:
    :func:`external_status`)."""
    if is_external():
        return external_status(load_endpoints(topology))
    t0 = time.monotonic()
    pp = postgres.paths(topology)
    pg_running = postgres.running(None, pp)
    k_proc = kafka.kafka_service(topology).process(topology)
    c_proc = kafka.connect_service(topology).process(topology)
    k_pid, c_pid = k_proc.pid(), c_proc.pid()
    comps = (
        ComponentState(
            "postgres",
            pg_running,
            pg_running and postgres.healthy(topology),
            postgres.postmaster_pid(pp) if pg_running else None,
            f"{topology.host}:{topology.postgres.port}",
        ),
        ComponentState(
            "kafka",
            k_pid is not None,
            k_pid is not None and kafka.kafka_healthy(topology),
            k_pid,
            topology.bootstrap_servers,
        ),
        ComponentState(
            "connect",
            c_pid is not None,
            c_pid is not None and kafka.connect_healthy(topology),
            c_pid,
            topology.connect_url,
        ),
    )
    return StackReport(comps, time.monotonic() - t0)


def refuse_external(action: str) -> None:
    """Raise :class:`ExternalStackRefusal` for ``action`` when the stack is external."""
    if is_external():
        raise ExternalStackRefusal(action)


def ready(topology: Topology) -> StackReport:
    """The stack a rehearsal runs on, ready: the local one brought up (:func:`up`), or an
    external one's health (:func:`external_status`), nothing started."""
    return external_status(load_endpoints(topology)) if is_external() else up(topology)


def external_status(endpoints: Endpoints) -> StackReport:
    """Whether an external stack's endpoints answer: the database ``select 1``, the broker a
    metadata request, Connect's REST API with the Debezium Postgres plugin. Nothing started;
    no pid (the processes are not cutover's)."""
    t0 = time.monotonic()
    checks = (
        ("postgres", f"{endpoints.host}:{endpoints.pg_port}", _database_answers),
        ("kafka", endpoints.bootstrap_servers, _broker_answers),
        ("connect", endpoints.connect_url, _connect_answers),
    )
    comps = tuple(
        ComponentState(name, ok, ok, None, address)
        for name, address, check in checks
        for ok in (check(endpoints),)
    )
    return StackReport(comps, time.monotonic() - t0)


def _database_answers(endpoints: Endpoints) -> bool:
    import psycopg

    try:
        with psycopg.connect(endpoints.dsn(), connect_timeout=3) as conn:
            return conn.execute("select 1").fetchone() == (1,)
    except psycopg.Error:
        return False


def _broker_answers(endpoints: Endpoints) -> bool:
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    admin = AdminClient(
        {"bootstrap.servers": endpoints.bootstrap_servers, "socket.timeout.ms": 2000}
    )
    try:
        return bool(admin.list_topics(timeout=5).brokers)
    except KafkaException:
        return False


def _connect_answers(endpoints: Endpoints) -> bool:
    from cdc.client import ConnectClient
    from cdc.errors import CdcError

    client = ConnectClient.from_url(endpoints.connect_url, auth=endpoints.connect_auth, timeout_s=3)
    try:
        return any(p.class_name == kafka.DEBEZIUM_CLASS for p in client.plugins())
    except CdcError:
        return False


def down(
    topology: Topology, *, wipe: bool = False, only: tuple[str, ...] = COMPONENTS
) -> list[str]:
    """Stop the stack's processes (Connect first, Postgres last); returns what was stopped."""
    refuse_external("down")
    with _locked(topology):
        return _down(topology, wipe=wipe, only=only)


def _down(topology: Topology, *, wipe: bool, only: tuple[str, ...]) -> list[str]:
    stopped: list[str] = []
    if "connect" in only and kafka.connect_service(topology).process(topology).stop():
        stopped.append("connect")
    if "kafka" in only and kafka.kafka_service(topology).process(topology).stop(timeout=60):
        stopped.append("kafka")
    if "postgres" in only and postgres.stop(topology):
        stopped.append("postgres")
    if wipe:
        for sub in ("postgres", "kafka", "connect", "run", "logs", "secrets", "app"):
            shutil.rmtree(topology.state_dir / sub, ignore_errors=True)
    log.info("stack down", stopped=stopped, wiped=wipe)
    return stopped


def restart(topology: Topology, component: str) -> StackReport:
    """Stop one component (gracefully) and bring the stack back up."""
    down(topology, only=(component,))
    return up(topology)


def log_path(topology: Topology, component: str) -> str:
    if component == "postgres":
        return str(postgres.paths(topology).log)
    return str(topology.state_dir / "logs" / f"{component}.log")
