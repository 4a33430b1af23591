"""Dead-letter acknowledgements in cutover's audit trail (``action = dlq-ack``).

``cutover shadow dlq purge`` and ``replay`` write one audit row per dead-letter topic they
acknowledge (who, when, the filter, the count, the acknowledged DLQ offset ranges per
partition, what ``deleteRecords`` removed); the gate's ``dead_lettered`` check reads them back
(:class:`phases.adapters_kafka.KafkaLagProbe`) and counts only what is left. They live beside
the transitions they gate, in the state store, so one trail answers "why did the gate pass".
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from phases.store import AuditEntry, StateStore, make_engine
from shadow.dlq_ops import AckLog, DlqAck, acknowledged, unacknowledged

ACTION = "dlq-ack"
HISTORY_LIMIT = 10_000


class AuditAckLog:
    """:class:`shadow.dlq_ops.AckLog` over the state store's audit table."""

    def __init__(self, store: StateStore, actor: str = "") -> None:
        self.store, self.actor = store, actor

    def record(self, ack: DlqAck) -> None:
        phase = self.store.phase()
        self.store.append_audit(
            AuditEntry(
                ACTION,
                phase,
                phase,
                ack.actor or self.actor,
                verdict=ack.action,
                detail=ack.to_dict(),
                at=ack.at,
            )
        )

    def acks(self, topic: str) -> list[DlqAck]:
        rows = self.store.history(HISTORY_LIMIT, action=ACTION)
        found = [DlqAck.from_dict(e.detail) for e in reversed(rows) if e.detail]
        return [a for a in found if a.topic == topic]


def ack_log_for(
    environ: Mapping[str, str], *, plan_path: str | None = None, actor: str = ""
) -> AuditAckLog | None:
    """The audit trail named by ``CUTOVER_STATE_URL``, else by the plan (its
    ``state_url_env``, else its database's ``url_env``); None when neither names one."""
    from phases.plan import load_plan

    schema, url = None, environ.get("CUTOVER_STATE_URL")
    if plan_path is not None:
        plan = load_plan(plan_path)
        schema = plan.system.state_schema
        url = url or environ.get(plan.system.state_url_env or plan.system.database.url_env)
    if not url:
        return None
    store = StateStore(
        make_engine(url), groups=("state",), **({"schema": schema} if schema else {})
    )
    store.require_initialised()
    return AuditAckLog(store, actor)


def dead_letters_left(
    conf: Mapping[str, Any],
    topic: str,
    *,
    since: datetime | None = None,
    acks: AckLog | None = None,
    timeout_s: float = 10.0,
) -> int:
    """Dead letters in ``topic`` that a gate counts: written at or after ``since`` (the time
    the context entered its mode; the whole topic when None) and not acknowledged (0 when
    the topic does not exist)."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({**conf, "group.id": "cutover-dlq-size", "enable.auto.commit": False})
    try:
        meta = consumer.list_topics(timeout=timeout_s).topics
        if topic not in meta:
            return 0
        parts = sorted(meta[topic].partitions)
        marks = {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout_s)
            for p in parts
        }
        start: dict[int, int] = {}
        if since is not None:
            stamp = int(since.timestamp() * 1000)
            found = consumer.offsets_for_times(
                [TopicPartition(topic, p, stamp) for p in parts], timeout=timeout_s
            )
            start = {
                t.partition: t.offset if t.offset >= 0 else marks[t.partition][1] for t in found
            }
    finally:
        consumer.close()
    acked = acknowledged(acks.acks(topic), topic) if acks is not None else {}
    return unacknowledged(marks, acked, start)
