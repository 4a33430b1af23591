"""No record stops a worker: dead letters too large, refused, or with nowhere to go
(in-memory fakes of Kafka and of the claim-check store)."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from legacy_app.orderflow.effects import RecordingEffects
from legacy_app.orderflow.processors import FlowProcessor
from legacy_app.orderflow.samples import order_payload, outbox_headers, outbox_value
from legacy_app.orderflow.store_memory import InMemoryStore
from shadow.dlq import dlq_headers
from shadow.dlq_payloads import InMemoryDeadLetterPayloads
from shadow.fakes import InMemoryBroker, InMemoryConsumer, InMemoryProducer
from shadow.runtime import RuntimeSettings, ShadowWorker
from tests.unit.shadow.conftest import DLQ, TOPIC

LIMIT = 4000


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def producer(broker: InMemoryBroker) -> InMemoryProducer:
    return InMemoryProducer(broker)


@pytest.fixture
def payloads() -> InMemoryDeadLetterPayloads:
    return InMemoryDeadLetterPayloads()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def worker(
    broker: InMemoryBroker,
    store: InMemoryStore,
    producer: InMemoryProducer,
    payloads: InMemoryDeadLetterPayloads,
    clock: Clock,
) -> ShadowWorker:
    w = ShadowWorker(
        InMemoryConsumer(broker, "g1"),
        producer,
        store,
        FlowProcessor(RecordingEffects()),
        RuntimeSettings((TOPIC,), DLQ, backoff_base=0.0, pause_seconds=1.0, dlq_max_bytes=LIMIT),
        sleep=lambda _s: None,
        clock=clock,
        payloads=payloads,
    )
    w.start()
    return w


def poison(broker: InMemoryBroker, key: bytes, size: int = 20, partition: int = 0) -> None:
    """An undecodable record of ``size`` bytes."""
    headers = outbox_headers(f"e-{key.decode()}", "order.created", f"c-{key.decode()}")
    broker.append(TOPIC, key, b"\x00" + b"x" * (size - 1), headers, partition=partition)


def good(broker: InMemoryBroker, order_id: str, partition: int = 0) -> None:
    headers = outbox_headers(f"e-{order_id}", "order.created", f"c-{order_id}")
    value = outbox_value(order_payload(order_id))
    broker.append(TOPIC, order_id.encode(), value, headers, partition=partition)


def stored(worker: ShadowWorker) -> dict[tuple[str, int], int]:
    consumer = worker.consumer
    assert isinstance(consumer, InMemoryConsumer)
    return consumer.stored


def letters(broker: InMemoryBroker) -> dict[str, dict[str, str]]:
    return {m.key.decode(): dlq_headers(m) for m in broker.records(DLQ) if m.key}


def test_a_letter_too_large_is_cut_and_its_original_kept_as_a_claim_check(
    broker: InMemoryBroker, worker: ShadowWorker, payloads: InMemoryDeadLetterPayloads
) -> None:
    good(broker, "o-1")
    poison(broker, b"big", size=50_000)
    good(broker, "o-2")
    report = worker.step()
    assert report.statuses["done"] == 2 and report.dead_lettered == 1
    [letter] = broker.records(DLQ)
    h = dlq_headers(letter)
    assert h["dlq.value.truncated"] == "true" and h["dlq.original.size"] == "50000"
    assert (h["dlq.original.topic"], h["dlq.original.partition"], h["dlq.original.offset"]) == (
        TOPIC, "0", "1",
    )  # fmt: skip
    assert h["dlq.claim_check"] == f"shadow.flow/{TOPIC}:0@1"
    assert letter.key == b"big" and 0 < len(letter.value or b"") < LIMIT
    kept = payloads.get(h["dlq.claim_check"])
    assert kept is not None and kept.value == b"\x00" + b"x" * 49_999 and kept.key == b"big"
    assert dict(kept.headers)["id"] == b"e-big"
    assert stored(worker) == {(TOPIC, 0): 3}


def test_a_letter_that_fits_goes_whole_without_claim_check(
    broker: InMemoryBroker, worker: ShadowWorker, payloads: InMemoryDeadLetterPayloads
) -> None:
    poison(broker, b"small")
    worker.step()
    [letter] = broker.records(DLQ)
    h = dlq_headers(letter)
    assert h["dlq.value.truncated"] == "false" and h["dlq.original.size"] == "20"
    assert "dlq.claim_check" not in h and letter.value == b"\x00" + b"x" * 19
    assert payloads.rows == {}


def test_without_the_claim_check_store_the_letter_goes_cut_and_says_why(
    broker: InMemoryBroker, worker: ShadowWorker, payloads: InMemoryDeadLetterPayloads
) -> None:
    payloads.unavailable = True
    poison(broker, b"big", size=50_000)
    assert worker.step().dead_lettered == 1
    h = letters(broker)["big"]
    assert h["dlq.value.truncated"] == "true" and "dlq.claim_check" not in h
    assert "claim-check store unavailable" in h["dlq.claim_check.error"]
    assert stored(worker) == {(TOPIC, 0): 1}


def test_an_exception_from_produce_defers_only_its_record_and_reports_it_stuck(
    broker: InMemoryBroker, worker: ShadowWorker, producer: InMemoryProducer, clock: Clock
) -> None:
    producer.raise_for_keys = {b"bad"}
    good(broker, "o-1", partition=0)
    poison(broker, b"bad", partition=0)
    good(broker, "o-2", partition=0)
    poison(broker, b"other", partition=1)
    with capture_logs() as logs:
        report = worker.step()
        worker.step()  # paused: nothing new, and no second log line
    assert report.dead_lettered == 1 and set(letters(broker)) == {"other"}
    assert report.paused == [(TOPIC, 0)]
    assert stored(worker)[(TOPIC, 0)] == 1 and stored(worker)[(TOPIC, 1)] == 1
    [stuck] = list(worker.stuck)
    assert stuck.text.startswith(f"stuck at {TOPIC}:0@1: dead letter not produced to {DLQ}: ")
    assert "RuntimeError: produce refused record b'bad'" in stuck.text
    assert broker.notes[("g1", (TOPIC, 0))].startswith(stuck.text)
    assert broker.committed[("g1", (TOPIC, 0))] == 1
    assert [e["offset"] for e in logs if e["event"] == "partition_stuck"] == [1]
    gauge = worker.metrics.registry.get_sample_value(
        "shadow_partition_stuck", {"topic": TOPIC, "partition": "0"}
    )
    assert gauge == 1.0

    producer.raise_for_keys = set()
    clock.now = 2.0
    with capture_logs() as logs:
        worker.step()
    worker.consumer.commit()
    assert set(letters(broker)) == {"other", "bad"}
    assert stored(worker)[(TOPIC, 0)] == 3 and list(worker.stuck) == []
    assert ("g1", (TOPIC, 0)) not in broker.notes
    assert [e["why"] for e in logs if e["event"] == "partition_unstuck"] == ["moved_on"]
    assert (
        worker.metrics.registry.get_sample_value(
            "shadow_partition_stuck", {"topic": TOPIC, "partition": "0"}
        )
        is None
    )


def test_a_flush_that_raises_defers_the_letters_and_the_worker_goes_on(
    broker: InMemoryBroker, worker: ShadowWorker, producer: InMemoryProducer, clock: Clock
) -> None:
    producer.flush_error = RuntimeError("flush broke")
    poison(broker, b"bad", partition=0)
    good(broker, "o-1", partition=1)
    report = worker.step()
    assert report.statuses["done"] == 1 and report.paused == [(TOPIC, 0)]
    assert report.dead_lettered == 0
    [stuck] = list(worker.stuck)
    assert stuck.offset == 0 and "not delivered within" in stuck.reason
    producer.flush_error = None
    clock.now = 2.0
    assert worker.step().dead_lettered == 1 and list(worker.stuck) == []


def test_a_missing_dead_letter_topic_pauses_the_partition_until_it_is_back(
    broker: InMemoryBroker, worker: ShadowWorker, producer: InMemoryProducer, clock: Clock
) -> None:
    producer.missing_topics = {DLQ}
    poison(broker, b"bad", partition=2)
    good(broker, "o-3", partition=2)
    for step in range(3):
        clock.now = step * 2.0
        worker.step()
    [stuck] = list(worker.stuck)
    assert stuck.text.startswith(f"stuck at {TOPIC}:2@0: ") and "UNKNOWN_TOPIC" in stuck.reason
    assert stored(worker).get((TOPIC, 2), 0) == 0 and broker.records(DLQ) == []
    producer.missing_topics = set()
    clock.now = 10.0
    worker.step()
    assert set(letters(broker)) == {"bad"} and list(worker.stuck) == []
    assert stored(worker)[(TOPIC, 2)] == 2


def test_a_letter_the_client_refuses_as_too_large_goes_again_without_value(
    broker: InMemoryBroker, worker: ShadowWorker, producer: InMemoryProducer
) -> None:
    producer.max_bytes = 1500  # smaller than the worker's limit: the client refuses the cut one
    poison(broker, b"big", size=3000)
    assert worker.step().dead_lettered == 1
    [letter] = broker.records(DLQ)
    h = dlq_headers(letter)
    assert letter.value == b"" and h["dlq.value.truncated"] == "true"
    assert h["dlq.claim_check"] == f"shadow.flow/{TOPIC}:0@0"
    assert "id" not in dict(letter.headers)  # the original headers went too


def test_a_delivery_that_never_comes_defers_the_record(
    broker: InMemoryBroker, worker: ShadowWorker, producer: InMemoryProducer
) -> None:
    producer.stall = True
    poison(broker, b"bad")
    report = worker.step()
    assert report.paused == [(TOPIC, 0)] and report.dead_lettered == 0
    [stuck] = list(worker.stuck)
    assert "not delivered within 30 s (1 outstanding)" in stuck.reason
