"""The real ports of :mod:`cdc.recover`: the captured database (psycopg) and Kafka
(confluent-kafka: topics created before use, the event ids already delivered)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql

from cdc.errors import CdcError
from cdc.health import PsycopgSlotProbe, SlotInfo
from cdc.recover import NewSlot, OutboxRow
from cdc.signal import BackfillColumns
from cutover_common.secrets import redact
from events.routed import header_map

SEEK_SLACK = timedelta(minutes=1)
"""Kafka timestamps are the connector's, not the database's: read a minute further back."""


def _table(name: str) -> sql.Identifier:
    return sql.Identifier(*name.split("."))


class PsycopgCaptureDatabase:
    """:class:`cdc.recover.CaptureDatabase` on one Postgres database (autocommit)."""

    def __init__(self, dsn: str, *, slot_timeout_s: float = 300.0) -> None:
        self._dsn = dsn
        self._probe = PsycopgSlotProbe(dsn)
        self.slot_timeout_s = slot_timeout_s

    def __repr__(self) -> str:
        return f"PsycopgCaptureDatabase({redact(self._dsn)!r})"

    def _run(self, query: Any, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            with psycopg.connect(self._dsn, connect_timeout=5, autocommit=True) as conn:
                cur = conn.execute(query, params)
                return cur.fetchall() if cur.description else []
        except psycopg.Error as exc:
            raise CdcError(f"captured database: {redact(str(exc))}") from None

    def slot(self, slot_name: str) -> SlotInfo | None:
        return self._probe.slot(slot_name)

    def drop_slot(self, slot_name: str) -> None:
        self._run("select pg_drop_replication_slot(%s)", (slot_name,))

    def create_slot(self, slot_name: str) -> NewSlot:
        """Create the slot; Postgres waits for every transaction open in the cluster (one
        with a transaction id) to end first, at most ``slot_timeout_s``."""
        timeout_ms = str(int(self.slot_timeout_s * 1000))
        try:
            with psycopg.connect(self._dsn, connect_timeout=5, autocommit=True) as conn:
                conn.execute("select set_config('statement_timeout', %s, false)", (timeout_ms,))
                row = conn.execute(
                    "select (lsn - '0/0'::pg_lsn)::bigint, now() "
                    "from pg_create_logical_replication_slot(%s, 'pgoutput')",
                    (slot_name,),
                ).fetchone()
                # now() above is when the statement began, before Postgres waited for open
                # transactions: rows created meanwhile commit before the slot's start. The
                # window must end once the slot exists.
                created = conn.execute("select clock_timestamp()").fetchone()
        except psycopg.errors.QueryCanceled:
            raise CdcError(
                f"creating replication slot {slot_name} waited {self.slot_timeout_s:g}s for "
                "transactions open elsewhere in the cluster to end (see pg_stat_activity, "
                "xact_start)"
            ) from None
        except psycopg.Error as exc:
            raise CdcError(f"captured database: {redact(str(exc))}") from None
        assert row is not None and created is not None
        return NewSlot(int(row[0]), created[0])

    def ensure_publication(self, name: str, tables: Sequence[str]) -> list[str]:
        """Create the publication for ``tables``, or add those it lacks (not to one ``FOR ALL
        TABLES``, which has them all); returns the tables added."""
        found = self._run("select puballtables from pg_publication where pubname = %s", (name,))
        if found and found[0][0]:
            return []
        rows = self._run(
            "select schemaname, tablename from pg_publication_tables where pubname = %s", (name,)
        )
        has = {f"{schema}.{table}" for schema, table in rows}
        missing = [t for t in tables if t not in has]
        if not missing:
            return []
        listed = sql.SQL(", ").join(_table(t) for t in missing)
        verb = (
            "alter publication {} add table {}" if found else "create publication {} for table {}"
        )
        self._run(sql.SQL(verb).format(sql.Identifier(name), listed))
        return missing

    def execute(self, ddl: str) -> None:
        self._run(ddl)

    def clear_signals(self, table: str) -> None:
        self._run(sql.SQL("delete from {}").format(_table(table)))

    def send_signal(self, table: str, signal_id: str, kind: str, data: str) -> None:
        query = sql.SQL("insert into {} (id, type, data) values (%s, %s, %s)")
        self._run(query.format(_table(table)), (signal_id, kind, data))

    def closed_windows(self, table: str) -> int:
        query = sql.SQL("select count(*) from {} where type = 'snapshot-window-close'")
        [(count,)] = self._run(query.format(_table(table)))
        return int(count)

    def outbox_rows(
        self, columns: BackfillColumns, since: datetime, until: datetime
    ) -> list[OutboxRow]:
        query = sql.SQL("select {}::text, {}::text from {} where {} >= %s and {} < %s").format(
            sql.Identifier(columns.id),
            sql.Identifier(columns.route_by),
            _table(columns.table),
            sql.Identifier(columns.created),
            sql.Identifier(columns.created),
        )
        return [OutboxRow(i, r) for i, r in self._run(query, (since, until))]


class KafkaEventLog:
    """:class:`cdc.recover.EventLog` on a Kafka cluster (``conf``: confluent-kafka's)."""

    def __init__(self, conf: Mapping[str, Any], *, timeout_s: float = 30.0) -> None:
        self.conf, self.timeout_s = dict(conf), timeout_s

    def ensure_topics(self, names: Sequence[str]) -> list[str]:
        from cutover_common.topics import KafkaTopicAdmin, TopicSpecValue

        admin = KafkaTopicAdmin(self.conf, timeout_s=self.timeout_s)
        return admin.ensure_topics([TopicSpecValue(n, 1) for n in names])

    def delivered_ids(self, topics: Sequence[str], since: datetime) -> set[str]:
        from confluent_kafka import Consumer, TopicPartition

        consumer = Consumer(
            {
                **self.conf,
                "group.id": "cutover-recover-reader",
                "enable.auto.commit": False,
                "enable.partition.eof": True,
            }
        )
        try:
            meta = consumer.list_topics(timeout=self.timeout_s).topics
            start_ms = int((since - SEEK_SLACK).timestamp() * 1000)
            wanted = [
                TopicPartition(t, p, start_ms)
                for t in topics
                if t in meta
                for p in meta[t].partitions
            ]
            if not wanted:
                return set()
            found = consumer.offsets_for_times(wanted, timeout=self.timeout_s)
            live = [tp for tp in found if tp.offset >= 0]
            return _read_ids(consumer, live, self.timeout_s) if live else set()
        finally:
            consumer.close()


def _read_ids(consumer: Any, partitions: list[Any], timeout_s: float) -> set[str]:
    """Every ``id`` header from ``partitions``' offsets up to their ends as they are now
    (streaming goes on meanwhile: chasing the end would never finish)."""
    ends = {}
    for tp in partitions:
        _low, high = consumer.get_watermark_offsets(tp, timeout=timeout_s)
        if high > tp.offset:
            ends[(tp.topic, tp.partition)] = high - 1
    if not ends:
        return set()
    consumer.assign([tp for tp in partitions if (tp.topic, tp.partition) in ends])
    ids: set[str] = set()
    while ends:
        msg = consumer.poll(timeout_s)
        if msg is None:
            raise CdcError(f"reading delivered event ids: no answer from Kafka in {timeout_s:g}s")
        if msg.error():
            if msg.error().code() == -191:  # _PARTITION_EOF
                ends.pop((msg.topic(), msg.partition()), None)
                continue
            raise CdcError(f"reading delivered event ids: {msg.error()}")
        event_id = header_map(msg.headers()).get("id")
        if event_id:
            ids.add(event_id)
        if msg.offset() >= ends.get((msg.topic(), msg.partition()), -1):
            ends.pop((msg.topic(), msg.partition()), None)
    return ids
