"""Debezium's source signal channel and the incremental snapshot that backfills a gap.

A connector reads signals from a *signal table* it captures (``signal.data.collection``,
channel ``source``: no Kafka topic is needed to send one). An ``execute-snapshot`` signal
of type ``incremental`` with ``additional-conditions`` re-reads only the outbox rows the
condition selects, in chunks, while streaming goes on; each row read goes out as an
``op: r`` record, which the Outbox Event Router routes like a streamed insert (same topic,
key and ``id`` header). :func:`gap_condition` writes that condition for a gap: outbox rows
created from the time the slot was lost (minus a margin) until the new slot was created,
less the ones already on Kafka when those are known. Pure: no I/O.

The plan's connectors carry their signal table from the start (:func:`with_signal_table`,
applied by :func:`phases.outbox_connectors.connector_config`): recovery then changes nothing
in their config, ``cutover connectors diff --plan`` sees no drift after it, and a team can
send its own signals (an ad-hoc incremental snapshot) to a connector the plan created.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime

from cdc.debezium import ConfigValue

SIGNAL_CHANNEL = "source"
MAX_LISTED_IDS = 20_000
"""Above this many ids on both sides, the condition is the time window alone."""


def signal_table_for(slot_name: str, schema: str = "public") -> str:
    """The connector's own signal table (one per slot: a shared one would signal them all)."""
    return f"{schema}.{slot_name}_signal"


def signal_table_ddl(table: str) -> str:
    """DDL of a signal table (``data`` is text: a gap's id list can be long)."""
    return (
        f"CREATE TABLE IF NOT EXISTS {table} ("
        "id varchar(64) PRIMARY KEY, type varchar(32) NOT NULL, data text NULL)"
    )


def signal_settings(live: Mapping[str, str], table: str) -> dict[str, str]:
    """The config changes that let the connector read signals from ``table`` (empty when it
    already does): the signal collection, the ``source`` channel, the table captured."""
    changes: dict[str, str] = {}
    if live.get("signal.data.collection") != table:
        changes["signal.data.collection"] = table
    channels = [c.strip() for c in live.get("signal.enabled.channels", "").split(",") if c.strip()]
    if channels and SIGNAL_CHANNEL not in channels:
        changes["signal.enabled.channels"] = ",".join([*channels, SIGNAL_CHANNEL])
    tables = [t.strip() for t in live.get("table.include.list", "").split(",") if t.strip()]
    if tables and table not in tables:
        changes["table.include.list"] = ",".join([*tables, table])
    return changes


def with_signal_table(config: Mapping[str, ConfigValue], table: str) -> dict[str, ConfigValue]:
    """``config`` with :func:`signal_settings` applied: the config a connector reading its
    signals from ``table`` runs with (``table`` must exist before it starts)."""
    plain = {k: v for k, v in config.items() if isinstance(v, str)}
    return {**config, **signal_settings(plain, table)}


@dataclass(frozen=True, slots=True)
class BackfillColumns:
    """The outbox table and the columns the backfill reads."""

    table: str
    id: str = "id"
    created: str = "created_at"
    route_by: str = "aggregatetype"


@dataclass(frozen=True, slots=True)
class GapCondition:
    """The incremental snapshot's condition and how it excludes delivered rows."""

    sql: str
    excludes_delivered: bool


def gap_condition(
    columns: BackfillColumns,
    since: datetime,
    until: datetime,
    *,
    gap_ids: Collection[str] | None = None,
    delivered_ids: Collection[str] = (),
) -> GapCondition:
    """Rows created in ``[since, until)``; with ``gap_ids`` (the rows known missing from
    Kafka) the shorter of ``id IN gap`` / ``id NOT IN delivered`` narrows it to the gap."""
    window = (
        f"{_ident(columns.created)} >= {_literal(since.isoformat())} "
        f"AND {_ident(columns.created)} < {_literal(until.isoformat())}"
    )
    if gap_ids is None:
        return GapCondition(window, excludes_delivered=False)
    column = _ident(columns.id)
    if len(gap_ids) <= len(delivered_ids) and len(gap_ids) <= MAX_LISTED_IDS:
        listed = ", ".join(_literal(i) for i in sorted(gap_ids)) or "NULL"
        return GapCondition(f"{window} AND {column} IN ({listed})", excludes_delivered=True)
    if len(delivered_ids) <= MAX_LISTED_IDS:
        if not delivered_ids:
            return GapCondition(window, excludes_delivered=True)
        listed = ", ".join(_literal(i) for i in sorted(delivered_ids))
        return GapCondition(f"{window} AND {column} NOT IN ({listed})", excludes_delivered=True)
    return GapCondition(window, excludes_delivered=False)


def snapshot_signal(table: str, condition: str) -> str:
    """The ``data`` of an ``execute-snapshot`` signal: an incremental snapshot of ``table``
    limited to ``condition``."""
    return json.dumps(
        {
            "data-collections": [table],
            "type": "incremental",
            "additional-conditions": [{"data-collection": table, "filter": condition}],
        }
    )


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
