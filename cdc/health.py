"""One health verdict for a CDC connector, for people and for the phase gates.

:func:`check_health` combines the connector and **every task** state (a
connector can be RUNNING while its tasks FAILED), the replication slot (active,
lag in bytes via ``pg_wal_lsn_diff``) and heartbeat freshness (the age of the
timestamp the heartbeat action query writes) into a frozen
:class:`ConnectorHealth` with ``ok`` and ``reasons``. Database access sits
behind the :class:`SlotProbe` port; :class:`PsycopgSlotProbe` is the real one.

Each reason starts with its cause (:data:`CAUSES`): ``slot missing``, ``slot lost``
(Postgres removed WAL the slot needs), ``slot inactive``, ``WAL retained`` (beyond
:attr:`HealthThresholds.max_retained_bytes`), ``slot lag``, ``task failed`` (with
Debezium's own message), ``connector not running``, ``heartbeat``, and ``slot unknown``
when the slot could not be checked (no database given): unknown, never healthy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Protocol

import psycopg
import structlog
from psycopg import sql

from cdc.client import ConnectClient
from cdc.errors import CdcError
from cdc.models import RUNNING
from cutover_common.secrets import redact

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class SlotInfo:
    """A replication slot as ``pg_replication_slots`` shows it."""

    name: str
    active: bool
    lag_bytes: int | None
    wal_status: str | None = None
    retained_bytes: int | None = None


class SlotProbe(Protocol):
    """Reads slot state and heartbeat age from the captured database."""

    def slot(self, slot_name: str) -> SlotInfo | None: ...

    def heartbeat_age_s(self, table: str) -> float | None: ...


_QUALIFIED = re.compile(r"^[A-Za-z_][\w$]*(\.[A-Za-z_][\w$]*)?$")


class PsycopgSlotProbe:
    """The real probe: one short psycopg connection per question."""

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn

    def __repr__(self) -> str:
        return f"PsycopgSlotProbe({redact(self._dsn)!r})"

    def _query(self, query: Any, params: tuple[Any, ...] = ()) -> tuple[Any, ...] | None:
        try:
            with psycopg.connect(self._dsn, connect_timeout=5) as conn:
                return conn.execute(query, params).fetchone()
        except psycopg.Error as exc:
            raise CdcError(f"cannot read slot/heartbeat state: {redact(str(exc))}") from None

    def slot(self, slot_name: str) -> SlotInfo | None:
        row = self._query(
            "select active, pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint, "
            "wal_status, pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint "
            "from pg_replication_slots where slot_name = %s and database = current_database()",
            (slot_name,),
        )
        if row is None:
            return None
        lag, retained = (None if v is None else int(v) for v in (row[1], row[3]))
        return SlotInfo(slot_name, bool(row[0]), lag, row[2], retained)

    def heartbeat_age_s(self, table: str) -> float | None:
        if not _QUALIFIED.match(table):
            raise ValueError(f"not a table name: {table!r}")
        ident = sql.Identifier(*table.split("."))
        query = sql.SQL("select extract(epoch from now() - max(ts))::float8 from {}").format(ident)
        row = self._query(query)
        return None if row is None or row[0] is None else float(row[0])


@dataclass(frozen=True, slots=True)
class HealthThresholds:
    """Bounds a healthy connector stays within."""

    max_lag_bytes: int = 64 * 1024 * 1024
    max_heartbeat_age_s: float = 60.0
    max_retained_bytes: int = 1024 * 1024 * 1024


SLOT_MISSING = "slot missing"
SLOT_LOST = "slot lost"
SLOT_INACTIVE = "slot inactive"
SLOT_UNKNOWN = "slot unknown"
WAL_RETAINED = "WAL retained"
SLOT_LAG = "slot lag"
TASK_FAILED = "task failed"
NOT_RUNNING = "connector not running"
HEARTBEAT = "heartbeat"
HEARTBEAT_UNKNOWN = "heartbeat unknown"
STATUS_UNAVAILABLE = "status unavailable"
CAUSES = (
    SLOT_MISSING,
    SLOT_LOST,
    SLOT_INACTIVE,
    SLOT_UNKNOWN,
    WAL_RETAINED,
    SLOT_LAG,
    TASK_FAILED,
    NOT_RUNNING,
    HEARTBEAT,
    HEARTBEAT_UNKNOWN,
    STATUS_UNAVAILABLE,
)
"""Every cause a reason can start with (``<cause>: <detail>``)."""

_LOST_POSITION = re.compile(r"trying to read change stream starting at .*no longer available", re.S)


def debezium_message(trace: str | None, limit: int = 200) -> str:
    """The first line of a task's trace without the exception class, shortened: Debezium's
    "stored position no longer available" (a lost slot) is named as such."""
    first = (trace or "").strip().splitlines()[0] if trace and trace.strip() else ""
    if _LOST_POSITION.search(first):
        return (
            "Debezium: its stored position is no longer available on the server (the "
            "replication slot was dropped or lost); it asks to be reconfigured with a "
            "snapshot mode"
        )
    _cls, sep, message = first.partition(": ")
    return (message if sep else first)[:limit]


@dataclass(frozen=True, slots=True)
class ConnectorHealth:
    """The verdict: ``ok`` and, when not, every reason why."""

    connector: str
    ok: bool
    reasons: tuple[str, ...]
    connector_state: str | None
    task_states: tuple[tuple[int, str], ...]
    slot_name: str | None = None
    slot_active: bool | None = None
    slot_lag_bytes: int | None = None
    heartbeat_age_s: float | None = None
    slot_retained_bytes: int | None = None

    @property
    def causes(self) -> tuple[str, ...]:
        """The cause of each reason (:data:`CAUSES`), in order, each once."""
        return tuple(dict.fromkeys(r.partition(":")[0] for r in self.reasons))

    @property
    def unknown(self) -> bool:
        """Not healthy only because something could not be measured."""
        return bool(self.reasons) and set(self.causes) <= {SLOT_UNKNOWN, HEARTBEAT_UNKNOWN}

    def to_dict(self) -> dict[str, Any]:
        return {
            "connector": self.connector,
            "ok": self.ok,
            "reasons": list(self.reasons),
            "connector_state": self.connector_state,
            "tasks": [{"id": i, "state": s} for i, s in self.task_states],
            "slot_name": self.slot_name,
            "slot_active": self.slot_active,
            "slot_lag_bytes": self.slot_lag_bytes,
            "heartbeat_age_s": self.heartbeat_age_s,
            "slot_retained_bytes": self.slot_retained_bytes,
            "causes": list(self.causes),
        }


def check_health(
    client: ConnectClient,
    name: str,
    *,
    probe: SlotProbe | None = None,
    heartbeat_table: str | None = None,
    thresholds: HealthThresholds | None = None,
    require_slot: bool = False,
) -> ConnectorHealth:
    """Connector, tasks, slot and heartbeat as one verdict (never raises for an unhealthy one).

    With ``require_slot`` and no ``probe``, a connector with a slot is ``slot unknown``.
    """
    limits = thresholds or HealthThresholds()
    reasons: list[str] = []
    state: str | None = None
    slot_name: str | None = None
    tasks: tuple[tuple[int, str], ...] = ()
    try:
        status = client.status(name)
        state = status.state
        tasks = tuple((t.id, t.state) for t in status.tasks)
        config = client.get_config(name)
        slot_name = config.get("slot.name")
        if slot_name is None and config.get("connector.class", "").endswith("PostgresConnector"):
            slot_name = "debezium"  # Debezium's default slot name
        if state != RUNNING:
            reasons.append(f"{NOT_RUNNING}: connector is {state}")
        if not tasks:
            reasons.append(f"{NOT_RUNNING}: connector has no tasks")
        reasons += [
            _task_reason(t.id, t.state, t.trace) for t in status.tasks if t.state != RUNNING
        ]
    except CdcError as exc:
        reasons.append(f"{STATUS_UNAVAILABLE}: connector status unavailable: {exc}")
    if require_slot and probe is None and slot_name is not None:
        reasons.append(
            f"{SLOT_UNKNOWN}: replication slot {slot_name} not checked (no database: give "
            "--dsn-env, or --plan for a connector the plan owns)"
        )
    slot = _slot(probe, slot_name, reasons, limits)
    age = _heartbeat(probe, heartbeat_table, reasons, limits)
    health = ConnectorHealth(
        connector=name,
        ok=not reasons,
        reasons=tuple(reasons),
        connector_state=state,
        task_states=tasks,
        slot_name=slot_name,
        slot_active=None if slot is None else slot.active,
        slot_lag_bytes=None if slot is None else slot.lag_bytes,
        heartbeat_age_s=age,
        slot_retained_bytes=None if slot is None else slot.retained_bytes,
    )
    log.info("cdc.health", connector=name, ok=health.ok, reasons=list(health.reasons))
    return health


def _slot(
    probe: SlotProbe | None, slot_name: str | None, reasons: list[str], limits: HealthThresholds
) -> SlotInfo | None:
    if probe is None or slot_name is None:
        return None
    try:
        slot = probe.slot(slot_name)
    except CdcError as exc:
        reasons.append(f"{SLOT_UNKNOWN}: {exc}")
        return None
    if slot is None:
        reasons.append(
            f"{SLOT_MISSING}: replication slot {slot_name} does not exist "
            "(`cutover connectors recover` recreates it and backfills the gap)"
        )
        return None
    if slot.wal_status == "lost":
        reasons.append(
            f"{SLOT_LOST}: replication slot {slot_name} lost WAL it needs (wal_status=lost; "
            "`cutover connectors recover` recreates it and backfills the gap)"
        )
    if not slot.active:
        reasons.append(f"{SLOT_INACTIVE}: replication slot {slot_name} is not active")
    if slot.retained_bytes is not None and slot.retained_bytes > limits.max_retained_bytes:
        reasons.append(
            f"{WAL_RETAINED}: slot {slot_name} holds {slot.retained_bytes} bytes of WAL "
            f"(max {limits.max_retained_bytes}; wal_status={slot.wal_status})"
        )
    if slot.lag_bytes is not None and slot.lag_bytes > limits.max_lag_bytes:
        reasons.append(
            f"{SLOT_LAG}: slot lag {slot.lag_bytes} bytes exceeds {limits.max_lag_bytes}"
        )
    return slot


def _task_reason(task_id: int, state: str, trace: str | None) -> str:
    cause = TASK_FAILED if state == "FAILED" else NOT_RUNNING
    message = debezium_message(trace) if state == "FAILED" else ""
    return f"{cause}: task {task_id} is {state}" + (f": {message}" if message else "")


def _heartbeat(
    probe: SlotProbe | None, table: str | None, reasons: list[str], limits: HealthThresholds
) -> float | None:
    if probe is None or table is None:
        return None
    try:
        age = probe.heartbeat_age_s(table)
    except CdcError as exc:
        reasons.append(f"{HEARTBEAT_UNKNOWN}: {exc}")
        return None
    if age is None:
        reasons.append(f"{HEARTBEAT}: no heartbeat recorded in {table}")
    elif age > limits.max_heartbeat_age_s:
        reasons.append(
            f"{HEARTBEAT}: heartbeat is {age:.1f}s old (max {limits.max_heartbeat_age_s:g}s)"
        )
    return age
