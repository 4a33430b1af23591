"""Kafka adapters (confluent-kafka): topics, the canary round trip, consumer lag, event schemas.

The canary writes one outbox row (aggregate type ``cutover_canary``) in the legacy
database's outbox table (the plan's ``outbox:`` block) and waits for the Outbox Event Router to deliver it on
``<topic_prefix>.cutover_canary``: outbox -> Debezium -> Kafka, end to end.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, text

from cdc.outbox_table import OPTIONAL_ROLES
from cutover_common.secrets import Secret
from cutover_common.topics import KafkaTopicAdmin, TopicSpecValue
from phases.plan import Plan
from phases.ports import CanaryResult, LagSnapshot, SchemaReport

if TYPE_CHECKING:
    from comparators.position import PipelinePosition
    from cutover.outbox import Outbox
    from shadow.dlq_ops import AckLog

CANARY_AGGREGATE = "cutover_canary"
CANARY_EVENT_TYPE = "cutover.canary"
DEFAULT_SHADOW_GROUP = "cutover.shadow"  # shadow.config.ShadowConfig.group_id


def kafka_config(plan: Plan, env: Mapping[str, str]) -> dict[str, Any]:
    """Client config; SASL credentials (``user:password`` in ``auth_env``) when given."""
    conf: dict[str, Any] = {"bootstrap.servers": plan.system.kafka.bootstrap_servers}
    if plan.system.kafka.auth_env and env.get(plan.system.kafka.auth_env):
        user, _, password = env[plan.system.kafka.auth_env].partition(":")
        conf.update(
            {
                "security.protocol": "SASL_PLAINTEXT",
                "sasl.mechanism": "PLAIN",
                "sasl.username": user,
                "sasl.password": Secret(password).reveal(),
            }
        )
    return conf


class OutboxCanary:
    """Writes a canary outbox row (into the plan's ``outbox:`` table, through
    ``cutover.emit``) and waits for it on ``<prefix>.cutover_canary``."""

    def __init__(self, plan: Plan, engine: Engine, conf: Mapping[str, Any]) -> None:
        from cutover.outbox import Outbox

        self.plan, self.engine, self.conf = plan, engine, dict(conf)
        self.topic = f"{plan.system.kafka.topic_prefix}.{CANARY_AGGREGATE}"
        self.outbox = Outbox.from_spec(plan.outbox)

    def round_trip(self, timeout_ms: float) -> CanaryResult:
        from confluent_kafka import Consumer, TopicPartition

        KafkaTopicAdmin(self.conf).ensure_topics([TopicSpecValue(self.topic, 1)])
        consumer = Consumer(
            {
                **self.conf,
                "group.id": f"cutover-canary-{uuid.uuid4().hex[:8]}",
                "enable.auto.commit": False,
            }
        )
        try:
            parts = consumer.list_topics(self.topic, timeout=10).topics[self.topic].partitions
            tps = []
            for p in parts:
                _low, high = consumer.get_watermark_offsets(
                    TopicPartition(self.topic, p), timeout=10
                )
                tps.append(TopicPartition(self.topic, p, high))
            consumer.assign(tps)
            started = time.monotonic()
            event_id = self._insert()
            return self._await(consumer, event_id, started, timeout_ms)
        finally:
            consumer.close()

    def _insert(self) -> str:
        """One canary row through ``cutover.emit`` (the plan's outbox layout, the same
        INSERT an application runs); returns its event id (the ``id`` header)."""
        import cutover

        marker = str(uuid.uuid4())
        with self.engine.begin() as conn:
            outbox = self.outbox_for(_table_columns(conn, self.outbox.layout.table))
            event_id = cutover.emit(
                conn,
                CANARY_AGGREGATE,
                marker,
                CANARY_EVENT_TYPE,
                {"canary": marker},
                correlation_id=marker,
                outbox=outbox,
            )
        return str(event_id)

    def outbox_for(self, existing: set[str]) -> Outbox:
        """The plan's outbox without the optional columns the table lacks (an adopted table
        from before ``aggregate_version`` or ``mode``; the router sends no such header)."""
        cols = self.outbox.layout.columns
        absent: dict[str, Any] = {
            role: None
            for role in OPTIONAL_ROLES
            if (column := getattr(cols, role)) is not None and existing and column not in existing
        }
        if not absent:
            return self.outbox
        layout = replace(self.outbox.layout, columns=replace(cols, **absent))
        return replace(self.outbox, layout=layout)

    def _await(
        self, consumer: Any, event_id: str, started: float, timeout_ms: float
    ) -> CanaryResult:
        while (elapsed := (time.monotonic() - started) * 1000) < timeout_ms:
            msg = consumer.poll(0.2)
            if msg is None or msg.error():
                continue
            headers = {
                k: (v.decode() if isinstance(v, bytes) else v) for k, v in msg.headers() or []
            }
            if headers.get("id") == event_id or (msg.key() or b"").decode().strip('"') == event_id:
                return CanaryResult(True, (time.monotonic() - started) * 1000)
        return CanaryResult(False, None, f"canary {event_id} not seen within {elapsed:.0f} ms")


def _table_columns(conn: Connection, table: str) -> set[str]:
    """The column names of ``schema.table`` (empty when it cannot be seen)."""
    schema, name = table.split(".", 1)
    query = text(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = :s AND table_name = :t"
    )
    return {str(row[0]) for row in conn.execute(query, {"s": schema, "t": name})}


def group_for(plan: Plan, context: str) -> str:
    """The shadow consumer group reading ``context``'s topic (shadow's default: one group)."""
    return plan.contexts[context].consumer_group or DEFAULT_SHADOW_GROUP


class KafkaLagProbe:
    """Where the context's shadow group stands on its topic (``comparators.position_kafka``:
    lag from the log start, in messages and in time, expired records, live members) and its
    dead letters that count (:func:`phases.dlq_acks.dead_letters_left`): written since the
    context entered its mode (``entered``, e.g. the mode store's ``entered_at``) and not
    acknowledged in ``acks`` (``cutover shadow dlq purge|replay``)."""

    def __init__(
        self,
        plan: Plan,
        conf: Mapping[str, Any],
        *,
        timeout_s: float = 10.0,
        entered: Callable[[], Mapping[str, datetime]] | None = None,
        acks: AckLog | None = None,
    ) -> None:
        self.plan, self.conf, self.timeout_s = plan, dict(conf), timeout_s
        self.entered, self.acks = entered, acks

    def lag(self, context: str) -> LagSnapshot:
        from comparators.position_kafka import read_position
        from phases.dlq_acks import dead_letters_left
        from shadow.kafka import stuck_notes

        group = group_for(self.plan, context)
        topic = self.plan.contexts[context].topic.name
        position = read_position(self.conf, topic, group, timeout_s=self.timeout_s)
        since = self.entered().get(context) if self.entered is not None else None
        dead = dead_letters_left(
            self.conf, f"{group}.dlq", since=since, acks=self.acks, timeout_s=self.timeout_s
        )
        stuck = stuck_notes(self.conf, group, [topic], timeout_s=self.timeout_s)
        return replace(lag_snapshot(position, dead), stuck=tuple(stuck))


def lag_snapshot(position: PipelinePosition, dead_lettered: int) -> LagSnapshot:
    """The gate's view of a position: lag in time only when the watermark is known (a behind
    partition whose record could not be read leaves it ``None``, an unknown check)."""
    known = all(p.oldest_unconsumed_at is not None for p in position.partitions if p.lag_messages)
    return LagSnapshot(
        group=position.group,
        lag_messages=position.lag_messages,
        lag_ms=round(position.lag_ms, 1) if known else None,
        dead_lettered=dead_lettered,
        per_partition={str(p.partition): p.lag_messages for p in position.partitions},
        expired=position.expired,
        members=position.members,
        topic=position.topic,
    )


class KafkaSchemaChecker:
    """Samples the last ``sample`` records per partition of each context's topic."""

    def __init__(self, plan: Plan, conf: Mapping[str, Any], sample: int = 50) -> None:
        self.plan, self.conf, self.sample = plan, dict(conf), sample

    def check(self, context: str, events: Sequence[str]) -> SchemaReport:
        """Each sampled event: a declared type, a JSON object, valid against a registered
        schema version of its type in the plan's contracts directory
        (:mod:`phases.event_schemas`)."""
        from phases.event_schemas import schema_report

        records = self._tail(self.plan.contexts[context].topic.name)
        return schema_report(self.plan, context, events, records)

    def _tail(self, topic: str) -> list[tuple[dict[str, str], bytes | None]]:
        from confluent_kafka import Consumer, TopicPartition

        consumer = Consumer(
            {**self.conf, "group.id": "cutover-schema-check", "enable.auto.commit": False}
        )
        out: list[tuple[dict[str, str], bytes | None]] = []
        try:
            meta = consumer.list_topics(topic, timeout=10).topics.get(topic)
            ends: dict[int, int] = {}
            tps = []
            for p in meta.partitions if meta else {}:
                low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
                if high > low:
                    tps.append(TopicPartition(topic, p, max(low, high - self.sample)))
                    ends[p] = high
            consumer.assign(tps)
            idle = 0
            while ends and idle < 20:
                msg: Any = consumer.poll(0.25)
                if msg is None or msg.error():
                    idle += 1
                    continue
                heads = {
                    k: (v.decode() if isinstance(v, bytes) else str(v))
                    for k, v in msg.headers() or []
                }
                out.append((heads, msg.value()))
                if msg.offset() + 1 >= ends.get(msg.partition(), 0):
                    ends.pop(msg.partition(), None)
        finally:
            consumer.close()
        return out
