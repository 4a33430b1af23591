"""Real adapters behind the ports: Kafka (confluent-kafka), Kafka Connect (``cdc``), the
legacy database, and ``comparators``. Other packages are imported lazily, inside functions,
so ``phases`` imports without them and a missing API surfaces as
:class:`~phases.errors.AdapterUnavailable` when the gate needs it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import Engine, create_engine, make_url, text

from cutover.state.naming import DEFAULT_SCHEMA, effective_schema, qualified
from cutover_common.topics import KafkaTopicAdmin
from phases.adapters_comparators import ComparatorsInvariants, ComparatorsRunner
from phases.adapters_kafka import (
    KafkaLagProbe,
    KafkaSchemaChecker,
    OutboxCanary,
    group_for,
    kafka_config,
)
from phases.errors import AdapterUnavailable, StepFailed
from phases.outbox_connectors import (
    OutboxConnector,
    application_connector,
    connector_config,
    shadow_outbox_connector,
    support_tables_ddl,
)
from phases.plan import Plan
from phases.ports import (
    ConnectorSnapshot,
    Ports,
    TaskState,
)
from phases.store import SqlModeStore

if TYPE_CHECKING:
    from shadow.dlq_ops import AckLog

log = structlog.get_logger(__name__)
HEARTBEAT_TABLE = "public.debezium_heartbeat"


def _connect_client(plan: Plan, env: Mapping[str, str], *, timeout_s: float = 30.0) -> Any:
    try:
        from cdc.client import ConnectClient
        from cdc.transport import BasicAuth
    except ImportError as exc:
        raise AdapterUnavailable("ConnectorAdmin", f"cdc not importable: {exc}") from exc
    auth_env = plan.system.connect.auth_env
    auth = BasicAuth.parse(env[auth_env]) if auth_env and env.get(auth_env) else None
    return ConnectClient.from_url(plan.system.connect.url, auth=auth, timeout_s=timeout_s)


class CdcConnectorAdmin:
    """Applies a Debezium outbox connector built from the plan by
    :func:`phases.outbox_connectors.connector_config` (the builder ``cutover connectors
    apply --plan`` uses too): the application's (``outbox:`` block, phase 2) unless given
    another :class:`~phases.outbox_connectors.OutboxConnector` (the shadow outbox's, phase
    3). A connector already running with the same config is left alone (not restarted)."""

    def __init__(
        self,
        plan: Plan,
        env: Mapping[str, str],
        database_url: str,
        connector: OutboxConnector | None = None,
    ) -> None:
        self.plan, self.env, self.database_url = plan, env, database_url
        self.connector = connector or application_connector(plan)
        self.name = self.connector.name

    def config(self) -> dict[str, Any]:
        return dict(connector_config(self.connector, self.database_url, self.env))

    def resnapshot_reasons(self) -> list[str]:
        """What applying the plan's connector would cause that republishes its outbox,
        compared with the config running on Connect (nothing when it does not run there)."""
        from cdc.errors import ConnectorNotFound
        from cdc.resnapshot import resnapshot_reasons

        try:
            live = _connect_client(self.plan, self.env).get_config(self.name)
        except ConnectorNotFound:
            return []
        return resnapshot_reasons(live, self.config())

    def apply_outbox_connector(self) -> str:
        client = _connect_client(self.plan, self.env)
        from cdc.errors import ConnectorNotFound
        from cdc.reconcile import config_changes

        spec = self.connector
        engine = create_engine(self.database_url)
        try:
            if spec.created_by is not None:
                _require_table(engine, spec)
            with engine.begin() as conn:  # its heartbeat and signal tables
                for ddl in support_tables_ddl(spec):
                    conn.execute(text(ddl))
            config = self.config()
            try:
                unchanged = not config_changes(config, client.get_config(self.name))
            except ConnectorNotFound:
                unchanged = False
            if unchanged:
                log.info("connector_unchanged", connector=self.name)
            else:
                client.put_config(self.name, config)
            client.wait_for(self.name, "RUNNING", timeout_s=90)
            wait_slot_active(engine, spec.slot_name, phase=spec.phase)
        finally:
            engine.dispose()
        return self.name

    def delete_connector(self) -> None:
        """Delete the connector (its slot stays); one already gone is deleted (an entry
        undone before the connector was applied)."""
        from cdc.errors import ConnectorNotFound

        try:
            _connect_client(self.plan, self.env).delete_connector(self.name)
        except ConnectorNotFound:
            log.info("connector_already_absent", connector=self.name)


def _require_table(engine: Engine, spec: OutboxConnector) -> None:
    """The connector's publication needs its table: say so, rather than a failed task later."""
    with engine.connect() as conn:
        found = conn.execute(text("SELECT to_regclass(:t)"), {"t": spec.layout.qualified})
        if found.scalar() is not None:
            return
    raise StepFailed(
        spec.phase,
        "forward",
        f"{spec.block}.table {spec.layout.table} does not exist in its database "
        f"({spec.url_env}); {spec.created_by}",
    )


class CdcHealthProbe:
    """``cdc.health.check_health``: connector, every task, slot and heartbeat age.

    A worker that cannot be read (unreachable, frozen past ``timeout_s``, answering 5xx)
    gives a snapshot whose connector and task states are unknown (``unreadable``), with the
    slot and heartbeat still read from Postgres; a connector the worker does not know is a
    measured failure (state ``UNAVAILABLE``, the reason in ``reasons``).
    """

    def __init__(
        self, plan: Plan, env: Mapping[str, str], database_url: str, *, timeout_s: float = 10.0
    ) -> None:
        self.plan, self.env, self.database_url = plan, env, database_url
        self.timeout_s = timeout_s

    def snapshot(self) -> ConnectorSnapshot:
        try:
            from cdc.errors import CdcError, ConnectServerError, ConnectUnreachable
            from cdc.health import PsycopgSlotProbe, check_health
        except ImportError as exc:
            raise AdapterUnavailable("ConnectorHealthProbe", f"cdc.health: {exc}") from exc
        spec = application_connector(self.plan)
        name = spec.name
        client = _connect_client(self.plan, self.env, timeout_s=self.timeout_s)
        probe = PsycopgSlotProbe(libpq_url(self.database_url))
        try:
            client.status(name)
        except (ConnectUnreachable, ConnectServerError) as exc:
            return self._without_connect(probe, exc.one_line())
        except CdcError:  # a 404, a refused login: measured, judged by check_health below
            pass
        health = check_health(client, name, probe=probe, heartbeat_table=spec.heartbeat_table)
        tasks = tuple(TaskState(i, state) for i, state in health.task_states)
        age = None if health.heartbeat_age_s is None else health.heartbeat_age_s * 1000
        state = health.connector_state or "UNAVAILABLE"
        return ConnectorSnapshot(name, state, tasks, health.slot_active, age, health.reasons)

    def _without_connect(self, probe: Any, reason: str) -> ConnectorSnapshot:
        """Slot and heartbeat from Postgres; connector and tasks unknown."""
        spec = application_connector(self.plan)
        name = spec.name
        slot = probe.slot(spec.slot_name)
        age_s = probe.heartbeat_age_s(spec.heartbeat_table)
        return ConnectorSnapshot(
            name,
            "UNKNOWN",
            (),
            None if slot is None else slot.active,
            None if age_s is None else age_s * 1000,
            (f"connector status unavailable: {reason}",),
            unreadable=reason,
        )


def libpq_url(database_url: str) -> str:
    """The SQLAlchemy URL as a libpq URI (``postgresql://...``) for psycopg."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


def wait_slot_active(engine: Engine, slot: str, timeout_s: float = 60.0, *, phase: int = 2) -> None:
    """Block until the connector's replication slot is streaming (so a canary is captured);
    else :class:`StepFailed` entering ``phase``."""
    deadline = time.monotonic() + timeout_s
    query = text("SELECT active FROM pg_replication_slots WHERE slot_name = :s")
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            if conn.execute(query, {"s": slot}).scalar():
                return
        time.sleep(0.5)
    raise StepFailed(phase, "forward", f"replication slot {slot} not active after {timeout_s:.0f}s")


class SqlSyncCallCounter:
    """Counts cutover's ``blocked_calls`` rows (sync calls the application attempted in
    ``events-only``), in the state schema ``schema`` of the application's database."""

    def __init__(self, engine: Engine, schema: str = DEFAULT_SCHEMA) -> None:
        self.engine = engine
        self.table = qualified("blocked_calls", effective_schema(engine.dialect.name, schema))

    def count(self, context: str, since: datetime) -> int:
        query = text(f"SELECT count(*) FROM {self.table} WHERE context = :c AND attempted_at >= :s")
        with self.engine.connect() as conn:
            return int(conn.execute(query, {"c": context, "s": since}).scalar_one())


class ShadowGroupPipeline:
    """The shadow workers run as their own processes (``cutover shadow run``); entering
    dual-write checks their consumer group has active members, leaving it only logs."""

    def __init__(self, plan: Plan, conf: Mapping[str, Any], wait_s: float = 30.0) -> None:
        self.plan, self.conf, self.wait_s = plan, dict(conf), wait_s

    def members(self, group: str) -> int:
        """Live members of ``group`` (0 for an unknown group or one that could not be read:
        entering dual-write waits for members it can see)."""
        from comparators.position_kafka import group_members

        return group_members(self.conf, group, timeout_s=10)[0] or 0

    def start(self, contexts: Sequence[str]) -> None:
        groups = sorted({group_for(self.plan, c) for c in contexts})
        deadline = time.monotonic() + self.wait_s
        missing = groups
        while missing and time.monotonic() < deadline:
            missing = [g for g in groups if self.members(g) == 0]
            if missing:
                time.sleep(1.0)
        if missing:
            raise StepFailed(
                3,
                "forward",
                f"no active shadow consumers in {', '.join(missing)}; "
                "start them with `cutover shadow run`",
            )
        log.info("shadow_running", groups=groups, contexts=list(contexts))

    def stop(self, contexts: Sequence[str]) -> None:
        log.info("shadow_may_stop", contexts=list(contexts))


def build_ports(
    plan: Plan,
    modes: SqlModeStore,
    env: Mapping[str, str] | None = None,
    *,
    reports_dir: Path | None = None,
    dlq_acks: AckLog | None = None,
) -> Ports:
    """The real ports for ``plan``; the legacy database is ``modes.engine``; comparison
    evidence goes under ``reports_dir/comparisons`` (default: the plan's reports_dir); the
    gates count the dead letters written since a context entered its mode and not
    acknowledged in ``dlq_acks``."""
    environ = dict(os.environ if env is None else env)
    engine = modes.engine
    conf = kafka_config(plan, environ)
    url = environ.get(plan.system.database.url_env, "")
    comparisons = ComparatorsRunner(plan, environ, reports_dir)
    shadow_outbox = shadow_outbox_connector(plan)
    shadow_connector = (
        None
        if shadow_outbox is None
        else CdcConnectorAdmin(plan, environ, environ.get(shadow_outbox.url_env, ""), shadow_outbox)
    )
    return Ports(
        modes=modes,
        topics=KafkaTopicAdmin(conf),
        connector=CdcConnectorAdmin(plan, environ, url),
        health=CdcHealthProbe(plan, environ, url),
        canary=OutboxCanary(plan, engine, conf),
        lag=KafkaLagProbe(plan, conf, entered=modes.entered_at, acks=dlq_acks),
        comparison=comparisons,
        schemas=KafkaSchemaChecker(plan, conf),
        sync_calls=SqlSyncCallCounter(engine, plan.system.state_schema),
        invariants=ComparatorsInvariants(plan, runner=comparisons),
        shadow=ShadowGroupPipeline(plan, conf),
        shadow_connector=shadow_connector,
    )
