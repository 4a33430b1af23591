"""The rehearsal environment: the stack, a fresh database, the sample app, shadow workers,
and the migration plan that ties them together for one run.

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

import psycopg
import structlog
import yaml

from cutover_common.secrets import Secret
from rehearsal.errors import NotReadyError, RehearsalError
from rehearsal.scenario import Scenario
from rehearsal.sources import COMPARE_RULES, DATABASE_ENV, INVARIANTS
from rehearsal.stack import manager
from rehearsal.stack.endpoints import Endpoints, load_endpoints
from rehearsal.stack.pgadmin import create_database, drop_database
from rehearsal.stack.process import port_open
from rehearsal.stack.topology import Topology
from rehearsal.workers import SAMPLE_APP, ShadowWorkers, WorkerSpec

if TYPE_CHECKING:
    from legacy_app.runner import RunSpec
    from phases.adapters_kafka import KafkaLagProbe

log = structlog.get_logger(__name__)


class AppPortBusyError(RehearsalError):
    """Raised when a port of the sample app is taken (often a rehearsal kept with --keep)."""

    def __init__(self, service: str, port: int) -> None:
        self.service = service
        self.port = port
        super().__init__(
            f"port {port} of the sample app's {service} service is already in use",
            hint="stop it: a rehearsal kept with --keep runs until `cutover rehearse --cleanup`",
        )


DUAL_MIN_MATCH_RATE = 0.97  # the dual-write gate's, also the rollback drill's
ASYNC_MIN_MATCH_RATE = 0.95  # the async gate's (the reverse comparison)
SAMPLE_CONTRACTS = Path(__file__).resolve().parents[1] / "legacy_app" / "contracts"
"""The sample's event contracts, named by the plan like any team's (docs/contracts.md)."""


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
    endpoints: Endpoints = field(init=False)
    workers: ShadowWorkers = field(init=False)
    fault_env: dict[str, str] = field(default_factory=dict)
    poison_injected: int = 0
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
    def order_topic(self) -> str:
        return f"{self.prefix}.order"

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
        """Environment the plan references (secrets by variable name, never inline)."""
        return {DATABASE_ENV: self.database_url()}

    def _worker_spec(self, mode: str) -> WorkerSpec:
        env = {
            "CUTOVER_SHADOW_BOOTSTRAP": self.endpoints.bootstrap_servers,
            "CUTOVER_SHADOW_DSN": self.endpoints.dsn(self.database),
            "CUTOVER_LOG_LEVEL": "WARNING",
        }
        if self.scenario.shadow.bug:
            env["CUTOVER_SHADOW_BUG"] = self.scenario.shadow.bug
        return WorkerSpec(self.database, self.group, (self.order_topic,), self.run_dir, mode, env)

    def _shadow_spec(self) -> dict[str, Any]:
        """The plan's shadow app for the order context: the sample's order flow plug-in."""
        options = {"bug": self.scenario.shadow.bug} if self.scenario.shadow.bug else {}
        return {"app": SAMPLE_APP, "options": options}

    # -- lifecycle ---------------------------------------------------------------------------
    def setup(self) -> None:
        """Stack up, fresh database with cutover's tables (``cutover init``), app services up
        (schema + seed), plan file written."""
        report = manager.up(self.topology)
        if not report.healthy:
            raise NotReadyError("the local stack", "a component is unhealthy")
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

    def _app_spec(self) -> RunSpec:
        from legacy_app.config import DEFAULT_PORTS
        from legacy_app.runner import RunSpec

        return RunSpec(
            run_dir=self.run_dir / "app",
            ports=self.app_ports or dict(DEFAULT_PORTS),
            database_url=Secret(self.database_url()),
            host=self.endpoints.host,
            env={
                "CUTOVER_KAFKA_BOOTSTRAP_SERVERS": self.endpoints.bootstrap_servers,
                "CUTOVER_OUTBOX_TOPIC_PREFIX": self.prefix,
                **self.fault_env,
            },
        )

    def start_app(self) -> None:
        from legacy_app.runner import start_services

        spec = self._app_spec()
        for service, port in spec.ports.items():
            if port_open(self.endpoints.host, port):
                raise AppPortBusyError(service, port)
        start_services(spec)

    def stop_app(self) -> None:
        from legacy_app.runner import stop_services

        stop_services(self.run_dir / "app")

    def restart_app(self, fault_env: dict[str, str]) -> None:
        """Restart the services with rehearsal fault settings (``{}`` clears them)."""
        self.stop_app()
        self.fault_env = dict(fault_env)
        self.start_app()

    def restart_service(self, service: str, fault_env: dict[str, str]) -> None:
        """Restart one app service with ``fault_env`` added to the fault settings; the other
        services keep running (and serving traffic) untouched."""
        from legacy_app.runner import restart_service

        self.fault_env = {**self.fault_env, **fault_env}
        restart_service(self._app_spec(), service)

    def clear_service_faults(self, service: str) -> None:
        """Take ``service``'s fault settings back (restarting only that service)."""
        from legacy_app.runner import restart_service

        prefix = f"CUTOVER_FAULT_{service.upper()}_"
        self.fault_env = {k: v for k, v in self.fault_env.items() if not k.startswith(prefix)}
        restart_service(self._app_spec(), service)

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
        from cdc.client import ConnectClient
        from cdc.errors import CdcError

        with contextlib.suppress(CdcError):  # never created, or already gone
            ConnectClient.from_url(self.endpoints.connect_url).delete_connector(self.connector_name)

    # -- the plan ----------------------------------------------------------------------------
    @property
    def plan_path(self) -> Path:
        return self.run_dir / "plan.yaml"

    def plan_document(self, *, min_settled_keys: int = 100) -> dict[str, Any]:
        ctx = self.scenario.context
        compare = {**COMPARE_RULES, "settle_seconds": 3}
        return {
            "version": 1,
            "system": {
                "database": {"url_env": DATABASE_ENV},
                "kafka": {
                    "bootstrap_servers": self.endpoints.bootstrap_servers,
                    "topic_prefix": self.prefix,
                },
                "connect": {
                    "url": self.endpoints.connect_url,
                    "connector_name": self.connector_name,
                    "slot_name": f"{self.prefix}_outbox",
                    "heartbeat_interval_ms": 2000,
                },
            },
            "auto_revert": True,
            "reports_dir": str(self.reports_dir),
            "contexts": {
                ctx: {
                    "tables": ["customers", "orders", "order_items", "outbox"],
                    "aggregate": "order",
                    "topic": {"name": self.order_topic, "partitions": 6},
                    "events": ["order.created", "order.completed", "order.failed"],
                    "consumer_group": self.group,
                    "shadow": self._shadow_spec(),
                    "outcome": {
                        "key": "order_id",
                        "sync_callable": "rehearsal.sources:sync_outcomes",
                        "event_callable": "rehearsal.sources:event_outcomes",
                        "verify_callable": "rehearsal.sources:verify_outcomes",
                        "async_event_callable": "rehearsal.sources:async_event_outcomes",
                    },
                    "compare": compare,
                    "invariants": INVARIANTS,
                }
            },
            "gates": {
                "identify": {"require_outcome_queries": True},
                "broker": {
                    "max_canary_ms": 20000,
                    "max_heartbeat_age_ms": 60000,
                    "require_slot_active": True,
                },
                "dual_write": {
                    "min_settled_keys": min_settled_keys,
                    "min_match_rate": DUAL_MIN_MATCH_RATE,
                    "warn_match_rate": 0.95,
                    "max_missing": 0,
                    "max_divergent": 0,
                    "max_duplicate": 0,
                    "max_lag_ms": 10000,
                    "max_lag_messages": 0,
                    "max_dead_lettered": self.poison_injected,
                    "on_fail": "revert",
                },
                "async": {
                    "min_settled_keys": min_settled_keys // 2,
                    "max_left_out_share": self.verify_left_out_share(),
                    "min_match_rate": ASYNC_MIN_MATCH_RATE,
                    "warn_match_rate": 0.93,
                    "max_missing": 0,
                    "max_divergent": 0,
                    "max_duplicate": 0,
                    "max_lag_ms": 10000,
                    "max_lag_messages": 0,
                    "max_dead_lettered": self.poison_injected,
                    "drill_min_settled_keys": 10,
                    "on_fail": "revert",
                },
                "remove_sync": {
                    "max_sync_calls": 0,
                    "require_invariants": True,
                    "on_fail": "revert",
                },
            },
            "rollout_order": [ctx],
            "contracts": {"dir": str(SAMPLE_CONTRACTS)},
        }

    def write_plan(self, **kwargs: Any) -> Path:
        self.plan_path.write_text(yaml.safe_dump(self.plan_document(**kwargs), sort_keys=False))
        return self.plan_path

    # -- waiting for the event path ----------------------------------------------------------
    def group_lag(self) -> int:
        """Messages of the order topic not yet committed by the shadow group (the same
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
        return self._lag_probe[1].lag(self.scenario.context).lag_messages

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
        """(orders written to the legacy outbox, orders the shadow store has finished)."""
        with psycopg.connect(self.endpoints.dsn(self.database), autocommit=True) as conn:
            expected = conn.execute(
                "select count(*) from outbox where type = 'order.created'"
            ).fetchone()
            try:
                done = conn.execute(
                    "select count(*) from shadow.order_status where finished_at is not null"
                ).fetchone()
            except psycopg.Error:
                done = (0,)
        return int(expected[0] if expected else 0), int(done[0] if done else 0)

    def wait_settled(self, *, timeout: float = 180.0, settle_seconds: float = 4.0) -> float:
        """Wait until the shadow store has finished every order the outbox announced and the
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
        from cdc.client import ConnectClient
        from cdc.health import PsycopgSlotProbe, check_health

        client = ConnectClient.from_url(self.endpoints.connect_url)
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

    def rewind_connector(self) -> str:
        """Stop the outbox connector, reset its offsets, resume. Under snapshot mode
        ``no_data`` (the generated connector's) it resumes from the replication slot: only
        what the slot had not confirmed is delivered again, never the outbox's history."""
        from cdc.client import ConnectClient

        client = ConnectClient.from_url(self.endpoints.connect_url)
        client.stop(self.connector_name)
        client.wait_for(self.connector_name, "STOPPED", timeout_s=60)
        client.reset_offsets(self.connector_name)
        client.resume(self.connector_name)
        client.wait_for(self.connector_name, "RUNNING", timeout_s=60)
        return f"connector {self.connector_name} stopped, offsets reset, resumed at {datetime.now(UTC):%H:%M:%S}"


def cleanup_kept(topology: Topology) -> list[str]:
    """Stop the app services and shadow workers of rehearsals kept with ``--keep``, delete
    their connectors and databases; returns the run ids cleaned."""
    from legacy_app.runner import stop_services
    from rehearsal.stack.process import ManagedProcess

    root = topology.state_dir / "rehearsals"
    cleaned: list[str] = []
    endpoints = load_endpoints(topology)
    for run_dir in sorted(p for p in root.glob("*") if p.is_dir()):
        run_id = run_dir.name
        for pid_file in run_dir.glob("shadow-*.pid"):
            ManagedProcess(pid_file.stem, pid_file, pid_file.with_suffix(".log")).stop()
        if (run_dir / "app").exists():
            stop_services(run_dir / "app")
        from cdc.client import ConnectClient
        from cdc.errors import CdcError

        with contextlib.suppress(CdcError):
            ConnectClient.from_url(endpoints.connect_url).delete_connector(f"rh{run_id}-outbox")
        drop_database(endpoints, f"rehearsal_{run_id}")
        cleaned.append(run_id)
    return cleaned
