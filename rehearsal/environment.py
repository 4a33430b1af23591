"""The rehearsal environment: the stack, a fresh database, the system's app (its
:class:`~rehearsal.system.System` adapter), shadow workers, and the migration plan that ties
them together for one run.

It is also the :class:`~rehearsal.faults.FaultTarget` the faults act on, and the fixture
the fault-matrix integration tests use.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog
import yaml

from cutover_common.config import SHADOW_BOOTSTRAP, SHADOW_DSN
from rehearsal.errors import NotReadyError
from rehearsal.scenario import FaultKind, Scenario, ScenarioError
from rehearsal.stack import manager
from rehearsal.stack.connect_auth import AUTH_ENV
from rehearsal.stack.endpoints import Endpoints, is_external, load_endpoints
from rehearsal.stack.pgadmin import create_database, drop_database
from rehearsal.stack.topology import Topology
from rehearsal.system import RunNames, System, load_system
from rehearsal.workers import ShadowWorkers, WorkerSpec

if TYPE_CHECKING:
    from phases.adapters_kafka import KafkaLagProbe

log = structlog.get_logger(__name__)


TEARDOWN_STEPS = ("workers", "app", "connector", "database")


def teardown_steps(*, keep: bool) -> tuple[str, ...]:
    """What a rehearsal's teardown stops or removes, in order: everything, or with ``keep``
    (``cutover rehearse --keep``) nothing at all — the shadow workers, the app, the connector
    and the database run on until ``cutover rehearse --cleanup``."""
    return () if keep else TEARDOWN_STEPS


@dataclass
class RehearsalEnvironment:
    """Everything one rehearsal run uses, named after ``run_id``."""

    topology: Topology
    scenario: Scenario
    run_id: str
    app_ports: dict[str, int] | None = None
    system: System = field(default_factory=load_system)
    endpoints: Endpoints = field(init=False)
    workers: ShadowWorkers = field(init=False)
    poison_injected: int = 0
    min_settled_keys: int = 100
    _lag_probe: tuple[int, KafkaLagProbe] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.refresh_endpoints()

    def refresh_endpoints(self) -> None:
        """Read the stack's endpoints (and its generated password) again, and the worker spec
        that carries them. ``setup`` calls it once the stack is up: on a fresh state
        directory the password file does not exist before the first ``stack up``."""
        self.endpoints = load_endpoints(self.topology)
        self.workers = ShadowWorkers(self._worker_spec("dual"), self.scenario.shadow.workers)

    # -- names -----------------------------------------------------------------------------
    @property
    def database(self) -> str:
        return f"rehearsal_{self.run_id}"

    @property
    def prefix(self) -> str:
        return f"rh{self.run_id}"

    @property
    def topics(self) -> tuple[str, ...]:
        """The system's topics of this run (one per context)."""
        return self.system.topics(self.prefix)

    @property
    def primary_topic(self) -> str:
        """The topic of the scenario's context (faults on the event path act on it)."""
        contexts = self.system.contexts
        index = contexts.index(self.scenario.context) if self.scenario.context in contexts else 0
        return self.topics[index]

    @property
    def primary_event(self) -> str:
        """The first event type of the scenario's context in the run's plan."""
        plan = self.plan_document()
        spec = plan["contexts"].get(self.scenario.context) or next(iter(plan["contexts"].values()))
        return str(spec["events"][0])

    @property
    def group(self) -> str:
        return f"{self.prefix}.shadow"

    @property
    def connector_name(self) -> str:
        return f"{self.prefix}-outbox"

    @property
    def bootstrap_servers(self) -> str:
        return self.endpoints.bootstrap_servers

    @property
    def run_dir(self) -> Path:
        return self.topology.state_dir / "rehearsals" / self.run_id

    @property
    def reports_dir(self) -> Path:
        return self.run_dir / "reports"

    def database_url(self) -> str:
        return self.endpoints.database_url(self.database)

    def environ(self) -> dict[str, str]:
        """Environment the plan references (secrets by variable name, never inline): the
        database URL, and Connect's credentials when the stack protects its REST API."""
        auth = self.endpoints.connect_auth
        credentials = {AUTH_ENV: f"{auth.username}:{auth.password.reveal()}"} if auth else {}
        return {self.system.database_env: self.database_url(), **credentials}

    def names(self) -> RunNames:
        """This run's names, the blanks of the system's plan template."""
        bug = self.scenario.shadow.bug
        return RunNames(
            prefix=self.prefix,
            connector_name=self.connector_name,
            slot_name=f"{self.prefix}_outbox",
            consumer_group=self.group,
            bootstrap_servers=self.endpoints.bootstrap_servers,
            connect_url=self.endpoints.connect_url,
            reports_dir=str(self.reports_dir),
            host=self.topology.host,  # where the app listens; the database may be elsewhere
            ports=dict(self.app_ports or {}),
            min_settled_keys=self.min_settled_keys,
            max_dead_lettered=self.poison_injected,
            max_left_out_share=self.verify_left_out_share(),
            shadow_options={"bug": bug} if bug else {},
        )

    def _worker_spec(self, mode: str) -> WorkerSpec:
        env = {
            SHADOW_BOOTSTRAP.name: self.endpoints.bootstrap_servers,
            SHADOW_DSN.name: self.endpoints.dsn(self.database),
            "CUTOVER_LOG_LEVEL": "WARNING",
            **self.system.shadow_env(self.names()),
        }
        return WorkerSpec(
            self.group,
            self.topics,
            self.run_dir,
            mode,
            env,
            app=self.system.shadow_app,
            app_args=tuple(self.system.shadow_args),
        )

    # -- lifecycle ---------------------------------------------------------------------------
    def setup(self) -> None:
        """Stack up (an external one: healthy), fresh database with cutover's tables (``cutover init``), app services up
        (schema + seed), plan file written."""
        check_external_faults(self.scenario)
        report = manager.ready(self.topology)  # CUTOVER_STACK=external: nothing started
        if not report.healthy:
            down = ", ".join(f"{c.name} ({c.address})" for c in report.components if not c.healthy)
            raise NotReadyError("the stack", f"not healthy: {down}")
        self.refresh_endpoints()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        drop_database(self.endpoints, self.database)
        create_database(self.endpoints, self.database)
        self.init_state()
        self.start_app()
        self.write_plan()

    def init_state(self) -> None:
        """``cutover init`` on the fresh database: cutover's own tables, before phase 1."""
        from sqlalchemy import create_engine

        from cutover.state.init import upgrade

        engine = create_engine(self.database_url())
        try:
            upgrade(engine)
        finally:
            engine.dispose()

    def start_app(self, fault_env: dict[str, str] | None = None) -> None:
        """Start the system's app and services (``fault_env``: its fault settings)."""
        self.system.start(self.run_dir, self.database_url(), self.names(), fault_env or {})

    def stop_app(self) -> None:
        self.system.stop(self.run_dir)

    def restart_app(self, fault_env: dict[str, str]) -> None:
        """Restart the app with fault settings the system reads (``{}`` clears them)."""
        self.stop_app()
        self.start_app(fault_env)

    def service_fault(self, service: str, error_rate: float, timeout_rate: float = 0.0) -> str:
        """Put ``error_rate`` (and ``timeout_rate``) of ``service``'s calls in error, only that
        service restarted; both 0 takes the fault back. Says what was done."""
        return self.system.fault(
            self.run_dir,
            self.database_url(),
            self.names(),
            service,
            error_rate,
            timeout_rate=timeout_rate,
        )

    def clear_service_faults(self, service: str) -> None:
        """Take ``service``'s fault back (restarting only that service)."""
        self.service_fault(service, 0.0, 0.0)

    def teardown(self, *, keep: bool = False) -> None:
        """Stop and remove what :func:`teardown_steps` says (with ``keep``: nothing)."""
        actions: dict[str, Callable[[], None]] = {
            "workers": self.workers.stop,
            "app": self.stop_app,
            "connector": self._delete_connector,
            "database": lambda: drop_database(self.endpoints, self.database),
        }
        for step in teardown_steps(keep=keep):
            actions[step]()

    def _delete_connector(self) -> None:
        from cdc.errors import CdcError

        with contextlib.suppress(CdcError):  # never created, or already gone
            self.endpoints.connect_client().delete_connector(self.connector_name)

    # -- the plan ----------------------------------------------------------------------------
    @property
    def plan_path(self) -> Path:
        return self.run_dir / "plan.yaml"

    def plan_document(self, *, min_settled_keys: int | None = None) -> dict[str, Any]:
        """The system's plan template filled with this run's names."""
        if min_settled_keys is not None:
            self.min_settled_keys = min_settled_keys
        return self.system.plan_document(self.names())

    def write_plan(self, **kwargs: Any) -> Path:
        self.plan_path.write_text(yaml.safe_dump(self.plan_document(**kwargs), sort_keys=False))
        return self.plan_path

    # -- waiting for the event path ----------------------------------------------------------
    def group_lag(self) -> int:
        """Messages of the contexts' topics not yet committed by the shadow group (the same
        probe the phase gates use)."""
        from phases.adapters_kafka import KafkaLagProbe
        from phases.plan import load_plan

        stamp = self.plan_path.stat().st_mtime_ns  # the plan is read again only when rewritten
        if self._lag_probe is None or self._lag_probe[0] != stamp:
            plan = load_plan(self.plan_path)
            self._lag_probe = (
                stamp,
                KafkaLagProbe(plan, {"bootstrap.servers": self.bootstrap_servers}),
            )
        probe = self._lag_probe[1]
        return sum(probe.lag(ctx).lag_messages for ctx in self.system.contexts)

    def verify_left_out_share(self) -> float:
        """The async gate's ``max_left_out_share``: the scenario's phase-4 downstream errors
        leave about their rate of verify runs inconclusive on purpose, so the share allowed is
        twice that rate (chance), at least the default 5 %, at most half."""
        rates = [
            f.error_rate + f.timeout_rate
            for f in self.scenario.faults_in(4)
            if f.kind == "downstream_errors"
        ]
        return round(min(0.5, max(0.05, 2 * max(rates, default=0.0))), 4)

    def counts(self) -> tuple[int, int]:
        """(outbox rows the shadow must handle, rows it has handled), as the system counts."""
        return self.system.progress(self.endpoints.dsn(self.database))

    def wait_settled(self, *, timeout: float = 180.0, settle_seconds: float = 4.0) -> float:
        """Wait until the shadow has handled every row the outbox announced and the
        shadow group has no lag (or ``timeout``), then the comparison's settle window."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            expected, done = self.counts()
            if done >= expected and self.group_lag() == 0:
                break
            time.sleep(1.0)
        else:
            log.warning("event path did not settle", expected=expected, done=done, timeout=timeout)
        time.sleep(settle_seconds)
        return time.monotonic() - t0

    def wait_pipeline_healthy(self, timeout: float = 120.0) -> float:
        """Wait until the outbox connector and all its tasks run and its slot is active."""
        from cdc.health import PsycopgSlotProbe, check_health

        client = self.endpoints.connect_client()
        probe = PsycopgSlotProbe(self.endpoints.dsn(self.database))
        t0 = time.monotonic()
        reasons: list[str] = []
        while time.monotonic() - t0 < timeout:
            health = check_health(client, self.connector_name, probe=probe)
            tasks_ok = bool(health.task_states) and all(
                t == "RUNNING" for _, t in health.task_states
            )
            if health.connector_state == "RUNNING" and tasks_ok and health.slot_active:
                return time.monotonic() - t0
            reasons = list(health.reasons)
            time.sleep(1.0)
        raise NotReadyError(
            f"outbox connector {self.connector_name}", f"after {timeout:.0f}s: {reasons}"
        )

    def restart_connector(self) -> str:
        """Restart the outbox connector and its tasks through Connect's REST API (what
        ``restart_connect`` does on an external stack, whose worker is not cutover's)."""
        t0 = time.monotonic()
        self.endpoints.connect_client().restart(self.connector_name, include_tasks=True)
        self.wait_pipeline_healthy()
        return (
            f"external stack: connector {self.connector_name} and its tasks restarted through "
            f"Connect's REST API (the worker is not cutover's to restart) in "
            f"{time.monotonic() - t0:.1f}s"
        )

    def rewind_connector(self) -> str:
        """Stop the outbox connector, reset its offsets, resume. Under snapshot mode
        ``no_data`` (the generated connector's) it resumes from the replication slot: only
        what the slot had not confirmed is delivered again, never the outbox's history."""

        client = self.endpoints.connect_client()
        client.stop(self.connector_name)
        client.wait_for(self.connector_name, "STOPPED", timeout_s=60)
        client.reset_offsets(self.connector_name)
        client.resume(self.connector_name)
        client.wait_for(self.connector_name, "RUNNING", timeout_s=60)
        return f"connector {self.connector_name} stopped, offsets reset, resumed at {datetime.now(UTC):%H:%M:%S}"


EXTERNAL_UNSUPPORTED = (FaultKind.RESTART_KAFKA, FaultKind.RESTART_POSTGRES)
"""Faults that restart processes an external stack does not let cutover restart."""


def check_external_faults(scenario: Scenario) -> None:
    """Refuse, before anything starts, a scenario that restarts Kafka or Postgres when the
    stack is external (``restart_connect`` restarts the connector through the REST API)."""
    if not is_external():
        return
    errors = [
        f"faults.{i}.kind: {f.kind.value} needs the local stack (CUTOVER_STACK=external: "
        "cutover does not restart the stack's processes)"
        for i, f in enumerate(scenario.faults)
        if f.kind in EXTERNAL_UNSUPPORTED
    ]
    if errors:
        raise ScenarioError(scenario.name, errors)


def cleanup_kept(topology: Topology, system: System | None = None) -> list[str]:
    """Stop the app services (``system``'s, the sample's by default) and shadow workers of
    rehearsals kept with ``--keep``, delete their connectors and databases; returns the run
    ids cleaned."""
    from cdc.errors import CdcError
    from rehearsal.stack.process import ManagedProcess

    system = system or load_system()
    root = topology.state_dir / "rehearsals"
    cleaned: list[str] = []
    endpoints = load_endpoints(topology)
    for run_dir in sorted(p for p in root.glob("*") if p.is_dir()):
        run_id = run_dir.name
        for pid_file in run_dir.glob("shadow-*.pid"):
            ManagedProcess(pid_file.stem, pid_file, pid_file.with_suffix(".log")).stop()
        system.stop(run_dir)
        with contextlib.suppress(CdcError):
            endpoints.connect_client().delete_connector(f"rh{run_id}-outbox")
        drop_database(endpoints, f"rehearsal_{run_id}")
        cleaned.append(run_id)
    return cleaned
