"""No record stops a shadow worker, on the real Kafka and Postgres: records too large for the
dead-letter topic are recorded there cut, their originals kept as claim checks; with the
dead-letter topic gone the worker says where it is stuck and goes on once the topic is back."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from legacy_app.orderflow.catalogue import initial_stock
from legacy_app.orderflow.effects import RecordingEffects
from legacy_app.orderflow.processors import FlowProcessor
from legacy_app.orderflow.samples import order_payload, outbox_headers, outbox_value
from legacy_app.orderflow.store_pg import PostgresStore
from rehearsal.stack.endpoints import Endpoints
from shadow.dlq_payloads import PgDeadLetterPayloads
from shadow.kafka import KafkaConsumerAdapter, KafkaProducerAdapter, consumer_config, stuck_notes
from shadow.runtime import RuntimeSettings, ShadowWorker
from tests.integration.shadow.conftest import read_topic, wait_until

BIG = 5 * 1024 * 1024
VALID = 10_000


def create_topics(bootstrap: str, topics: dict[str, dict[str, str]], partitions: int = 3) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    new = [NewTopic(t, partitions, 1, config=c) for t, c in topics.items()]
    for future in admin.create_topics(new, operation_timeout=30).values():
        future.result(30)
    wait_until(lambda: set(topics) <= set(admin.list_topics(timeout=10).topics), 30, "topics")


def delete_topic(bootstrap: str, topic: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.delete_topics([topic], operation_timeout=30)[topic].result(30)
    wait_until(lambda: topic not in admin.list_topics(timeout=10).topics, 30, "topic deleted")


def produce(bootstrap: str, topic: str, records: list[tuple[bytes, bytes, Any]]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "message.max.bytes": 7 * 1024 * 1024,
                         "linger.ms": 20})  # fmt: skip
    for key, value, headers in records:
        producer.produce(topic, key=key, value=value, headers=list(headers))
        producer.poll(0)
    assert producer.flush(60) == 0


def orders(n: int) -> list[tuple[bytes, bytes, Any]]:
    return [
        (f"o-{i}".encode(), outbox_value(order_payload(f"o-{i}")),
         outbox_headers(f"e-{i}", "order.created", f"c-{i}"))
        for i in range(n)
    ]  # fmt: skip


def poison(name: str, size: int) -> tuple[bytes, bytes, Any]:
    """An undecodable record of ``size`` bytes."""
    return (
        name.encode(),
        b"\x00" + b"p" * (size - 1),
        outbox_headers(f"e-{name}", "order.created"),
    )


@pytest.fixture
def store(endpoints: Endpoints, fresh_database: str) -> Iterator[PostgresStore]:
    s = PostgresStore(endpoints.dsn(fresh_database))
    s.ensure_schema(initial_stock())
    yield s
    s.close()


def worker_of(
    endpoints: Endpoints, store: PostgresStore, dsn: str, topic: str, group: str, **settings: Any
) -> tuple[ShadowWorker, PgDeadLetterPayloads]:
    payloads = PgDeadLetterPayloads(dsn, store.schema)
    payloads.ensure_schema()
    worker = ShadowWorker(
        KafkaConsumerAdapter(consumer_config(endpoints.bootstrap_servers, group)),
        KafkaProducerAdapter(endpoints.bootstrap_servers),
        PostgresStore(dsn),
        FlowProcessor(RecordingEffects()),
        RuntimeSettings((topic,), f"{group}.dlq", batch_timeout=0.1, **settings),
        payloads=payloads,
        writer=PostgresStore(dsn),
    )
    worker.start()
    return worker, PgDeadLetterPayloads(dsn, store.schema)


def dead_lettered(worker: ShadowWorker) -> float:
    sample = worker.metrics.registry.get_sample_value(
        "shadow_events_dead_lettered_total", {"kind": "undecodable"}
    )
    return sample or 0.0


def processed(store: PostgresStore) -> int:
    row = store.conn.execute(f"SELECT count(*) FROM {store.schema}.processed_events").fetchone()
    return int(row[0]) if row else 0


def test_records_too_large_for_the_dead_letter_topic_are_recorded_cut_with_claim_checks(
    endpoints: Endpoints, fresh_database: str, store: PostgresStore, unique: str
) -> None:
    bootstrap = endpoints.bootstrap_servers
    topic, group = f"shadow-big-{unique}.order", f"shadow-big-{unique}"
    create_topics(bootstrap, {topic: {"max.message.bytes": str(8 * 1024 * 1024)},
                              f"{group}.dlq": {}})  # fmt: skip
    records = orders(VALID)
    for n, at in enumerate((10, 5_000, 9_990)):
        records.insert(at, poison(f"big-{n}", BIG))
    produce(bootstrap, topic, records)

    worker, payloads = worker_of(endpoints, store, endpoints.dsn(fresh_database), topic, group)
    worker.run(lambda: dead_lettered(worker) >= 3 and processed(store) >= VALID, idle_stop=10)

    assert processed(store) == VALID
    assert len(store.outcomes()) == VALID
    letters = read_topic(endpoints, f"{group}.dlq", 3)
    assert sorted(m.key() for m in letters) == [b"big-0", b"big-1", b"big-2"]
    for letter in letters:
        h = {k: v.decode() for k, v in letter.headers() if k.startswith("dlq.")}
        assert h["dlq.original.topic"] == topic and h["dlq.error.kind"] == "undecodable"
        assert (h["dlq.original.size"], h["dlq.value.truncated"]) == (str(BIG), "true")
        assert len(letter.value()) < 1_000_000
        kept = payloads.get(h["dlq.claim_check"])
        assert kept is not None and kept.size == BIG and kept.key == letter.key()
        assert (kept.partition, kept.offset) == (
            int(h["dlq.original.partition"]), int(h["dlq.original.offset"]),
        )  # fmt: skip
    payloads.close()


def test_without_its_dead_letter_topic_a_worker_says_where_it_is_stuck_and_resumes(
    endpoints: Endpoints, fresh_database: str, store: PostgresStore, unique: str
) -> None:
    bootstrap = endpoints.bootstrap_servers
    topic, group = f"shadow-nodlq-{unique}.order", f"shadow-nodlq-{unique}"
    dlq = f"{group}.dlq"
    create_topics(bootstrap, {topic: {}, dlq: {}}, partitions=1)
    delete_topic(bootstrap, dlq)
    produce(bootstrap, topic, [*orders(50), poison("bad", 100), *orders(100)[50:]])

    worker, payloads = worker_of(
        endpoints, store, endpoints.dsn(fresh_database), topic, group,
        pause_seconds=1.0, dlq_flush_timeout=15.0,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not list(worker.stuck) and time.monotonic() < deadline:
            worker.step()
        [stuck] = list(worker.stuck)
        assert stuck.text.startswith(f"stuck at {topic}:0@50: dead letter not produced to {dlq}")
        [note] = stuck_notes({"bootstrap.servers": bootstrap}, group, [topic])
        assert note.startswith(stuck.text)

        create_topics(bootstrap, {dlq: {}}, partitions=1)
        deadline = time.monotonic() + 60
        while list(worker.stuck) and time.monotonic() < deadline:
            worker.step()
        worker.step()
        assert list(worker.stuck) == [] and len(store.outcomes()) == 100
        [letter] = read_topic(endpoints, dlq, 1)
        assert letter.key() == b"bad" and dict(letter.headers())["dlq.original.offset"] == b"50"
        worker.consumer.commit()
        assert stuck_notes({"bootstrap.servers": bootstrap}, group, [topic]) == []
    finally:
        worker.close()
        payloads.close()
