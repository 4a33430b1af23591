"""One health verdict for a CDC connector, for people and for the phase gates.

:func:`check_health` combines the connector and **every task** state (a
connector can be RUNNING while its tasks FAILED), the replication slot (active,
lag in bytes via ``pg_wal_lsn_diff``) and heartbeat freshness (the age of the
timestamp the heartbeat action query writes) into a frozen
:class:`ConnectorHealth` with ``ok`` and ``reasons``. Database access sits
behind the :class:`SlotProbe` port; :class:`PsycopgSlotProbe` is the real one.
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
            "wal_status from pg_replication_slots where slot_name = %s",
            (slot_name,),
        )
        if row is None:
            return None
        return SlotInfo(slot_name, bool(row[0]), None if row[1] is None else int(row[1]), row[2])

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
        }


def check_health(
    client: ConnectClient,
    name: str,
    *,
    probe: SlotProbe | None = None,
    heartbeat_table: str | None = None,
    thresholds: HealthThresholds | None = None,
) -> ConnectorHealth:
    """Connector, tasks, slot and heartbeat as one verdict (never raises for an unhealthy one)."""
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
            reasons.append(f"connector is {state}")
        if not tasks:
            reasons.append("connector has no tasks")
        reasons += [f"task {t.id} is {t.state}" for t in status.tasks if t.state != RUNNING]
    except CdcError as exc:
        reasons.append(f"connector status unavailable: {exc}")
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
        reasons.append(str(exc))
        return None
    if slot is None:
        reasons.append(f"replication slot {slot_name} does not exist")
        return None
    if not slot.active:
        reasons.append(f"replication slot {slot_name} is not active")
    if slot.lag_bytes is not None and slot.lag_bytes > limits.max_lag_bytes:
        reasons.append(f"slot lag {slot.lag_bytes} bytes exceeds {limits.max_lag_bytes}")
    return slot


def _heartbeat(
    probe: SlotProbe | None, table: str | None, reasons: list[str], limits: HealthThresholds
) -> float | None:
    if probe is None or table is None:
        return None
    try:
        age = probe.heartbeat_age_s(table)
    except CdcError as exc:
        reasons.append(str(exc))
        return None
    if age is None:
        reasons.append(f"no heartbeat recorded in {table}")
    elif age > limits.max_heartbeat_age_s:
        reasons.append(f"heartbeat is {age:.1f}s old (max {limits.max_heartbeat_age_s:g}s)")
    return age
