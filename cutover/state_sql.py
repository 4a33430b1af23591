"""The SQL adapters of the mode switch and the verify recorder, on cutover's tables.

The tables (created by ``cutover init``, in the application's database, schema ``cutover``
by default) are the contract with ``phases`` and the comparators:

* ``<schema>.context_modes (context, mode, ...)`` — read by :class:`SqlModeTable`;
* ``<schema>.instance_heartbeats (instance_id, host, pid, modes, observed_at)`` — one row
  per instance, upserted by :class:`SqlHeartbeats`;
* ``<schema>.verify_results`` and ``<schema>.blocked_calls`` — appended by :class:`SqlLedger`.

Each call is one short statement on its own connection (never the request's transaction).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from sqlalchemy import Engine, Insert, Table, delete, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from cutover.modes import InstanceReport
from cutover.state.models import (
    BlockedCallRow,
    ContextModeRow,
    InstanceHeartbeatRow,
    VerifyResultRow,
)
from cutover.state.naming import DEFAULT_SCHEMA, bind
from cutover.verify import BlockedCall, VerifyRecord

_MODES = cast(Table, ContextModeRow.__table__)
_BEATS = cast(Table, InstanceHeartbeatRow.__table__)
_VERIFY = cast(Table, VerifyResultRow.__table__)
_BLOCKED = cast(Table, BlockedCallRow.__table__)


class SqlModeTable:
    """:class:`~cutover.modes.ModeReader` over ``<schema>.context_modes`` (all rows at once)."""

    def __init__(self, engine: Engine, *, schema: str = DEFAULT_SCHEMA) -> None:
        self.engine = bind(engine, schema)
        self._select = select(_MODES.c.context, _MODES.c.mode)

    def read_modes(self) -> Mapping[str, str]:
        with self.engine.connect() as conn:
            return {str(c): str(m) for c, m in conn.execute(self._select)}


class SqlHeartbeats:
    """:class:`~cutover.modes.HeartbeatSink` upserting ``<schema>.instance_heartbeats``."""

    def __init__(self, engine: Engine, *, schema: str = DEFAULT_SCHEMA) -> None:
        self.engine = bind(engine, schema)

    def beat(self, report: InstanceReport) -> None:
        values = {
            "instance_id": report.instance_id,
            "host": report.host,
            "pid": report.pid,
            "modes": dict(report.modes),
            "observed_at": func.now(),  # the database's clock: ages are read by it too
        }
        with self.engine.begin() as conn:
            conn.execute(_upsert(conn.dialect.name, values))

    def forget(self, instance_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(_BEATS).where(_BEATS.c.instance_id == instance_id))


def _upsert(dialect: str, values: dict[str, Any]) -> Insert:
    changed = {k: v for k, v in values.items() if k != "instance_id"}
    if dialect == "postgresql":
        pg = postgresql.insert(_BEATS).values(**values)
        return pg.on_conflict_do_update(index_elements=["instance_id"], set_=changed)
    if dialect == "sqlite":
        lite = sqlite.insert(_BEATS).values(**values)
        return lite.on_conflict_do_update(index_elements=["instance_id"], set_=changed)
    raise NotImplementedError(f"instance heartbeats on {dialect}")


class SqlLedger:
    """:class:`~cutover.verify.Ledger` appending to ``verify_results`` / ``blocked_calls``.

    The key goes to the tables' ``business_key`` column (the business key the comparators join
    on, whatever the business calls it).
    """

    def __init__(self, engine: Engine, *, schema: str = DEFAULT_SCHEMA) -> None:
        self.engine = bind(engine, schema)

    def record_verify(self, record: VerifyRecord) -> None:
        values: dict[str, Any] = {
            "business_key": record.key,
            "context": record.context,
            "operation": record.operation,
            "result": record.document(),
            "correlation_id": record.correlation_id or "",
            "inconclusive": record.inconclusive,
        }
        with self.engine.begin() as conn:
            conn.execute(insert(_VERIFY).values(**values))

    def record_blocked(self, call: BlockedCall) -> None:
        values = {
            "context": call.context,
            "operation": call.operation,
            "business_key": call.key,
            "correlation_id": call.correlation_id,
        }
        with self.engine.begin() as conn:
            conn.execute(insert(_BLOCKED).values(**values))


def init_state(engine: Engine, *, schema: str = DEFAULT_SCHEMA) -> bool:
    """What ``cutover init`` does, from the application's own bootstrap: create (or upgrade)
    cutover's tables in ``schema`` of ``engine``'s database (no schema on SQLite, for tests).

    Idempotent, in one transaction; returns True when it created or upgraded anything.
    Raises :class:`~cutover.state.errors.StateUpgradeFailed` (the database's first line)
    when the upgrade fails, having changed nothing.
    """
    from cutover.state.init import upgrade

    return upgrade(engine, schema=schema).changed
