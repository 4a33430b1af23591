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

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Engine, text

from cutover.modes import InstanceReport
from cutover.verify import BlockedCall, VerifyRecord

DEFAULT_SCHEMA = "cutover"


def _qualified(schema: str, table: str) -> str:
    return f'"{schema}"."{table}"'


class SqlModeTable:
    """:class:`~cutover.modes.ModeReader` over ``<schema>.context_modes`` (all rows at once)."""

    def __init__(self, engine: Engine, table: str | None = None, *, schema: str = DEFAULT_SCHEMA):
        self.engine = engine
        self.table = table or _qualified(schema, "context_modes")
        self._select = text(f"SELECT context, mode FROM {self.table}")

    def read_modes(self) -> Mapping[str, str]:
        with self.engine.connect() as conn:
            return {str(c): str(m) for c, m in conn.execute(self._select)}


class SqlHeartbeats:
    """:class:`~cutover.modes.HeartbeatSink` upserting ``<schema>.instance_heartbeats``."""

    def __init__(self, engine: Engine, *, schema: str = DEFAULT_SCHEMA) -> None:
        self.engine = engine
        table = _qualified(schema, "instance_heartbeats")
        self._upsert = text(
            f"INSERT INTO {table} (instance_id, host, pid, modes, observed_at) "
            "VALUES (:instance_id, :host, :pid, CAST(:modes AS jsonb), :observed_at) "
            "ON CONFLICT (instance_id) DO UPDATE SET host = EXCLUDED.host, pid = EXCLUDED.pid, "
            "modes = EXCLUDED.modes, observed_at = EXCLUDED.observed_at"
        )
        self._delete = text(f"DELETE FROM {table} WHERE instance_id = :instance_id")

    def beat(self, report: InstanceReport) -> None:
        params = {
            "instance_id": report.instance_id,
            "host": report.host,
            "pid": report.pid,
            "modes": json.dumps(dict(report.modes), sort_keys=True),
            "observed_at": report.beat_at,
        }
        with self.engine.begin() as conn:
            conn.execute(self._upsert, params)

    def forget(self, instance_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(self._delete, {"instance_id": instance_id})


class SqlLedger:
    """:class:`~cutover.verify.Ledger` appending to ``verify_results`` / ``blocked_calls``.

    The key goes to the tables' ``order_id`` column (the business key the comparators join
    on, whatever the business calls it).
    """

    def __init__(self, engine: Engine, *, schema: str = DEFAULT_SCHEMA) -> None:
        self.engine = engine
        self._verify = text(
            f"INSERT INTO {_qualified(schema, 'verify_results')} "
            "(order_id, context, operation, result, correlation_id, inconclusive) "
            "VALUES (:key, :context, :operation, CAST(:result AS jsonb), :correlation_id, "
            ":inconclusive)"
        )
        self._blocked = text(
            f"INSERT INTO {_qualified(schema, 'blocked_calls')} "
            "(context, operation, order_id, correlation_id) "
            "VALUES (:context, :operation, :key, :correlation_id)"
        )

    def record_verify(self, record: VerifyRecord) -> None:
        params: dict[str, Any] = {
            "key": record.key,
            "context": record.context,
            "operation": record.operation,
            "result": json.dumps(record.document(), sort_keys=True),
            "correlation_id": record.correlation_id or "",
            "inconclusive": record.inconclusive,
        }
        with self.engine.begin() as conn:
            conn.execute(self._verify, params)

    def record_blocked(self, call: BlockedCall) -> None:
        params = {
            "context": call.context,
            "operation": call.operation,
            "key": call.key,
            "correlation_id": call.correlation_id,
        }
        with self.engine.begin() as conn:
            conn.execute(self._blocked, params)
