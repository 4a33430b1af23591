"""Poison messages of each kind land in the dead-letter topic with their reasons, on the real
Kafka and Postgres, while the messages around them are processed."""

from __future__ import annotations

import json
from typing import Any

from confluent_kafka import Producer

from legacy_app.orderflow.catalogue import initial_stock
from legacy_app.orderflow.domain import Order
from legacy_app.orderflow.effects import RecordingEffects
from legacy_app.orderflow.processors import FlowProcessor
from legacy_app.orderflow.samples import order_payload, outbox_headers, outbox_value
from legacy_app.orderflow.store_pg import PostgresStore
from rehearsal.stack.endpoints import Endpoints
from shadow.messages import InboundEvent
from tests.integration.shadow.conftest import kafka_worker, read_topic
from tests.integration.topics import ensure_topics


class BuggyFlow(FlowProcessor):
    """The real flow, with a bug that hits one order."""

    def apply(
        self, event: InboundEvent, parsed: object, changes: Any, batch: Any, scope: object
    ) -> None:
        assert isinstance(parsed, Order)
        order = parsed
        if order.order_id == "bug":
            raise KeyError("bug in handler")
        super().apply(event, parsed, changes, batch, scope)


def test_each_poison_kind_is_dead_lettered_with_reason_and_neighbours_processed(
    endpoints: Endpoints, fresh_database: str, unique: str
) -> None:
    topic, group = f"shadow-poison-{unique}.order", f"shadow-poison-{unique}"
    dlq = f"{group}.dlq"
    ensure_topics(endpoints.bootstrap_servers, {topic: 1, dlq: 1})
    producer = Producer({"bootstrap.servers": endpoints.bootstrap_servers})

    def send(key: bytes, value: bytes | None, headers: tuple) -> None:
        producer.produce(topic, key=key, value=value, headers=list(headers))

    send(
        b"good-1",
        outbox_value(order_payload("good-1")),
        outbox_headers("e-g1", "order.created", "c-g1"),
    )
    send(b"x1", b"\x00not json", outbox_headers("e-p1", "order.created", "c-p1"))
    send(b"x2", b"{}", outbox_headers("e-p2", "order.vanished", "c-p2"))
    invalid = order_payload("x3")
    invalid["items"] = []
    send(b"x3", json.dumps(invalid).encode(), outbox_headers("e-p3", "order.created", "c-p3"))
    send(
        b"bug", outbox_value(order_payload("bug")), outbox_headers("e-p4", "order.created", "c-p4")
    )
    send(b"good-1", None, ())  # tombstone
    send(
        b"snap",
        json.dumps({"op": "r", "source": {"snapshot": "true"}, "after": {}}).encode(),
        outbox_headers("e-s", "order.created"),
    )
    send(
        b"good-2",
        outbox_value(order_payload("good-2")),
        outbox_headers("e-g2", "order.created", "c-g2"),
    )
    assert producer.flush(30) == 0

    store = PostgresStore(endpoints.dsn(fresh_database))
    store.ensure_schema(initial_stock())
    worker = kafka_worker(
        endpoints, store, BuggyFlow(RecordingEffects()), topic, group,
        dlq=dlq, max_attempts=3, backoff_base=0.01,
    )  # fmt: skip
    worker.run(lambda: False, idle_stop=5.0)

    reader = PostgresStore(endpoints.dsn(fresh_database))
    try:
        assert [o.order_id for o in reader.outcomes()] == ["good-1", "good-2"]
        assert reader.anomaly_counts() == {"order": {"tombstone": 1, "snapshot": 1}}
    finally:
        reader.close()

    letters = read_topic(endpoints, dlq, 4)
    by_id = {dict(m.headers())["id"].decode(): m for m in letters}
    assert set(by_id) == {"e-p1", "e-p2", "e-p3", "e-p4"}

    def h(eid: str) -> dict[str, str]:
        return {k: v.decode() for k, v in by_id[eid].headers() if k.startswith("dlq.")}

    assert h("e-p1")["dlq.error.kind"] == "undecodable" and by_id["e-p1"].value() == b"\x00not json"
    assert (
        h("e-p2")["dlq.error.kind"] == "unknown_type"
        and "order.vanished" in h("e-p2")["dlq.error.message"]
    )
    assert (
        h("e-p3")["dlq.error.kind"] == "schema_invalid"
        and "items" in h("e-p3")["dlq.error.message"]
    )
    bug = h("e-p4")
    assert (bug["dlq.error.kind"], bug["dlq.error.class"], bug["dlq.attempts"]) == (
        "handler_error",
        "KeyError",
        "3",
    )
    for eid in ("e-p1", "e-p2", "e-p3", "e-p4"):
        hdr = h(eid)
        assert hdr["dlq.original.topic"] == topic and hdr["dlq.original.partition"] == "0"
        assert int(hdr["dlq.original.offset"]) in range(1, 5)
        assert dict(by_id[eid].headers())["correlation_id"] == f"c-{eid[2:]}".encode()
