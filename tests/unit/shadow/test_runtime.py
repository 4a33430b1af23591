from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import requests

from legacy_app.orderflow.changes import Changes
from legacy_app.orderflow.domain import Order, parse_order
from legacy_app.orderflow.effects import HttpEffects, RecordingEffects
from legacy_app.orderflow.processors import FlowProcessor
from legacy_app.orderflow.samples import order_payload
from legacy_app.orderflow.store_memory import InMemoryStore, MemoryStoreTx
from shadow.breaker import CircuitBreaker
from shadow.dlq import dlq_headers
from shadow.fakes import InMemoryBroker, InMemoryConsumer, InMemoryProducer
from shadow.messages import InboundEvent
from shadow.store import StoreWriteError
from tests.unit.shadow.conftest import (
    DLQ,
    TOPIC,
    Flaky,
    PatchedTxStore,
    WorkerFactory,
    publish,
    worker_on,
)


def drain(worker: Any, steps: int = 5) -> None:
    for _ in range(steps):
        worker.step()


def test_batch_is_applied_and_offsets_stored_after_commit(
    broker: InMemoryBroker, store: InMemoryStore, make_worker: WorkerFactory
) -> None:
    for i in range(6):
        publish(broker, order_payload(f"o-{i}"))
    worker = make_worker()
    report = worker.step()
    assert report.consumed == 6 and report.statuses["done"] == 6
    assert store.commits == 1, "one shadow transaction per batch"
    assert len(store.outcomes()) == 6
    assert sum(worker.consumer.stored.values()) == 6
    assert broker.committed == {}, "stored, not yet committed"
    worker.close()
    assert sum(broker.committed.values()) == 6


def test_redelivery_after_a_crash_applies_nothing_twice(
    broker: InMemoryBroker, store: InMemoryStore, make_worker: WorkerFactory
) -> None:
    for i in range(5):
        publish(broker, order_payload(f"o-{i}", [("SKU-0001", 2)]))
    crashed = make_worker()
    crashed.step()  # applied and committed to the store, offsets never committed: "kill -9"
    before = store.outcomes()
    stock = store.state.stock["SKU-0001"]
    survivor = make_worker()
    report = survivor.step()
    assert report.statuses == {"duplicate": 5}
    assert store.outcomes() == before
    assert store.state.stock["SKU-0001"] == stock
    assert store.anomaly_counts() == {"order": {"duplicate": 5}}
    survivor.close()
    assert make_worker().step().consumed == 0


def test_poison_of_each_kind_is_dead_lettered_and_neighbours_processed(
    broker: InMemoryBroker, store: InMemoryStore, make_worker: WorkerFactory
) -> None:
    publish(broker, order_payload("ok-1"))
    key = b"o-p"
    broker.append(TOPIC, key, b"{broken", (("id", b"p1"), ("type", b"order.created")), partition=0)
    broker.append(TOPIC, key, b"{}", (("id", b"p2"), ("type", b"order.teleported")), partition=0)
    bad = order_payload("o-p")
    bad["total"] = "lots"
    broker.append(
        TOPIC,
        key,
        json.dumps(bad).encode(),
        (("id", b"p3"), ("type", b"order.created")),
        partition=0,
    )
    publish(broker, order_payload("ok-2"))
    worker = make_worker()
    report = worker.step()
    assert report.statuses["done"] == 2 and report.dead_lettered == 3
    assert {o.order_id for o in store.outcomes()} == {"ok-1", "ok-2"}
    letters = broker.records(DLQ)
    kinds = sorted(dlq_headers(m)["dlq.error.kind"] for m in letters)
    assert kinds == ["schema_invalid", "undecodable", "unknown_type"]
    undecodable = next(m for m in letters if dlq_headers(m)["dlq.error.kind"] == "undecodable")
    assert undecodable.value == b"{broken" and undecodable.key == key
    assert dict(undecodable.headers)["id"] == b"p1", "original headers are kept"
    h = dlq_headers(undecodable)
    assert (h["dlq.original.topic"], h["dlq.original.partition"], h["dlq.attempts"]) == (
        TOPIC,
        "0",
        "1",
    )
    assert h["dlq.error.class"] == "JSONDecodeError" and h["dlq.original.offset"].isdigit()
    assert worker.consumer.stored[(TOPIC, 0)] == len(broker.logs[(TOPIC, 0)]), "poison never blocks"


class Buggy(FlowProcessor):
    def __init__(self, bad: str) -> None:
        super().__init__(RecordingEffects())
        self.bad = bad
        self.calls = 0

    def apply(
        self, event: InboundEvent, parsed: object, changes: Any, batch: Any, scope: object
    ) -> None:
        assert isinstance(parsed, Order)
        order = parsed
        if order.order_id == self.bad:
            self.calls += 1
            raise ZeroDivisionError("handler bug")
        super().apply(event, parsed, changes, batch, scope)


def test_handler_bug_is_retried_then_dead_lettered(
    broker: InMemoryBroker, store: InMemoryStore, make_worker: WorkerFactory
) -> None:
    for oid in ("a", "bug", "b"):
        publish(broker, order_payload(oid), event_id=f"e-{oid}")
    proc = Buggy("bug")
    report = make_worker(proc, max_attempts=4).step()
    assert proc.calls == 4
    assert report.statuses["done"] == 2 and report.dead_lettered == 1
    [letter] = broker.records(DLQ)
    h = dlq_headers(letter)
    assert (h["dlq.error.kind"], h["dlq.error.class"], h["dlq.attempts"]) == (
        "handler_error",
        "ZeroDivisionError",
        "4",
    )
    assert "handler bug" in h["dlq.error.message"]
    assert {o.order_id for o in store.outcomes()} == {"a", "b"}


class RefusingStore(PatchedTxStore):
    """Refuses, like a database constraint would, any write touching order ``bad``."""

    def patch(self, tx: MemoryStoreTx) -> None:
        original = tx.apply

        def apply(changes: Changes) -> None:
            if "bad" in changes.orders:
                raise StoreWriteError("CheckViolation", "bad row")
            original(changes)

        tx.apply = apply  # type: ignore[method-assign]


def test_refused_bulk_write_is_redone_per_event_and_only_the_bad_one_dead_lettered(
    broker: InMemoryBroker,
) -> None:
    from legacy_app.orderflow.catalogue import initial_stock

    store = RefusingStore()
    store.ensure_schema(initial_stock())
    for oid in ("x", "bad", "y"):
        publish(broker, order_payload(oid))
    worker = worker_on(broker, store)
    report = worker.step()
    assert report.statuses["done"] == 2 and report.dead_lettered == 1
    assert {o.order_id for o in store.outcomes()} == {"x", "y"}
    assert dlq_headers(broker.records(DLQ)[0])["dlq.error.class"] == "CheckViolation"


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_open_circuit_pauses_only_that_partition_and_keeps_key_order(
    broker: InMemoryBroker, store: InMemoryStore, make_worker: WorkerFactory
) -> None:
    clock = FakeClock()
    proc = Flaky("blocked")
    for oid, part in (("blocked", 0), ("after", 0), ("other", 1)):
        publish_to(broker, oid, part)
    worker = make_worker(proc, clock=clock)
    report = worker.step()
    assert report.paused == [(TOPIC, 0)]
    assert report.dead_lettered == 0
    assert {o.order_id for o in store.outcomes()} == {"other"}, "later events of the key wait"
    assert worker.consumer.paused == {(TOPIC, 0)}
    assert worker.consumer.stored.get((TOPIC, 0), 0) == 0
    assert worker.step().consumed == 0
    proc.blocked = ""
    clock.now += 2.5
    report = worker.step()
    assert worker.consumer.paused == set()
    assert report.statuses["done"] == 2
    assert {o.order_id for o in store.outcomes()} == {"other", "blocked", "after"}


def publish_to(broker: InMemoryBroker, oid: str, partition: int) -> None:
    from legacy_app.orderflow.samples import outbox_headers, outbox_value

    broker.append(
        TOPIC,
        oid.encode(),
        outbox_value(order_payload(oid)),
        outbox_headers(f"e-{oid}", "order.created", "c"),
        partition=partition,
    )


def test_service_down_in_async_mode_pauses_instead_of_dead_lettering(
    broker: InMemoryBroker, store: InMemoryStore, make_worker: WorkerFactory
) -> None:
    clock = FakeClock()
    calls: list[str] = []
    state = {"down": True}

    def post(url: str, body: dict, headers: dict, timeout: float) -> tuple[int, Any]:
        calls.append(url)
        if state["down"] and url.endswith("/charge"):
            raise requests.ConnectionError("refused")
        if url.endswith("/reserve"):
            return 200, {"status": "reserved", "lines": body["lines"]}
        if url.endswith("/charge"):
            return 200, {"status": "captured", "amount": body["amount"]}
        if url.endswith("/shipments"):
            return 200, {"carrier": "standard", "status": "created"}
        return 200, {"template": body.get("template"), "recipient": body.get("recipient")}

    breakers = {
        s: CircuitBreaker(s, failure_threshold=2, reset_seconds=3.0, clock=clock)
        for s in ("inventory", "payment", "shipping", "email")
    }
    effects = HttpEffects({s: f"http://svc-{s}" for s in breakers}, breakers=breakers, post=post)
    publish_to(broker, "async-1", 0)
    worker = make_worker(FlowProcessor(effects), clock=clock, transient_attempts=5)
    report = worker.step()
    assert report.dead_lettered == 0 and report.paused == [(TOPIC, 0)]
    assert breakers["payment"].state == "open"
    assert store.outcomes() == []
    state["down"] = False
    clock.now += 3.5
    report = worker.step()
    assert report.statuses["done"] == 1
    [outcome] = store.outcomes()
    assert outcome.status == "completed" and outcome.payment is not None
    assert outcome.payment.amount == Decimal("6.25")


def test_anomalies_are_counted_per_context(
    broker: InMemoryBroker, store: InMemoryStore, make_worker: WorkerFactory
) -> None:
    p = order_payload("agg")
    publish(broker, p, event_id="dup")
    publish(broker, p, event_id="dup")
    broker.append(TOPIC, b"agg", None, (), partition=0)
    snap = json.dumps({"op": "r", "source": {"snapshot": "true"}}).encode()
    broker.append(TOPIC, b"agg", snap, (("id", b"s"), ("type", b"order.created")), partition=0)
    for seq, eid in ((1, "s1"), (3, "s3"), (2, "s2")):
        publish(
            broker,
            order_payload(f"seq-{eid}", customer_id="c"),
            event_id=eid,
            extra_headers=(("sequence", str(seq).encode()),),
        )
    worker = make_worker(FlowProcessor(RecordingEffects(), contexts={"order"}))
    worker.step()
    counts = store.anomaly_counts()["order"]
    assert counts["duplicate"] == 1 and counts["tombstone"] == 1 and counts["snapshot"] == 1


def test_sequence_gaps_and_reorders_are_detected() -> None:
    from shadow.anomalies import sequence_anomalies

    def ev(seq: int, eid: str) -> InboundEvent:
        return InboundEvent(eid, "order.created", "agg-1", {}, sequence=seq, context="order")

    counts, high = sequence_anomalies([ev(2, "a"), ev(4, "b"), ev(3, "c")], {"agg-1": 1})
    assert counts == {("order", "gap"): 1, ("order", "reorder"): 1}
    assert high == {"agg-1": 4}


def test_revocation_commits_stored_offsets(
    broker: InMemoryBroker, make_worker: WorkerFactory
) -> None:
    publish(broker, order_payload("r-1"))
    worker = make_worker()
    worker.step()
    assert broker.committed == {}
    worker.consumer.revoke_all()
    assert sum(broker.committed.values()) == 1


def test_known_types_without_handler_are_ignored(
    broker: InMemoryBroker, store: InMemoryStore, make_worker: WorkerFactory
) -> None:
    publish(
        broker,
        {"order_id": "o-c", "total": "1.00", "currency": "EUR"},
        event_type="order.completed",
    )
    report = make_worker().step()
    assert report.statuses == {"ignored": 1}
    assert broker.records(DLQ) == []


def test_undelivered_dead_letter_keeps_the_offset(
    broker: InMemoryBroker, store: InMemoryStore
) -> None:
    from shadow.runtime import RuntimeSettings, ShadowWorker

    broker.append(TOPIC, b"k", b"{broken", (("id", b"x"), ("type", b"order.created")), partition=0)
    worker = ShadowWorker(
        InMemoryConsumer(broker, "g"),
        InMemoryProducer(broker, fail=True),
        store,
        FlowProcessor(RecordingEffects()),
        RuntimeSettings((TOPIC,), DLQ),
        sleep=lambda _s: None,
    )
    worker.start()
    report = worker.step()
    assert report.paused == [(TOPIC, 0)]
    assert worker.consumer.stored.get((TOPIC, 0), 0) == 0


def test_parse_order_used_by_runtime_matches_payload() -> None:
    assert parse_order(order_payload("z")).order_id == "z"


class FlakyStore(InMemoryStore):
    """Loses its connection on the first transaction."""

    def __init__(self) -> None:
        super().__init__()
        self.failures = 1

    def transaction(self) -> Any:
        from shadow.store import StoreUnavailableError

        if self.failures:
            self.failures -= 1
            raise StoreUnavailableError("OperationalError", "server closed the connection")
        return super().transaction()


def test_store_outage_is_retried_with_backoff_not_dead_lettered(broker: InMemoryBroker) -> None:
    from legacy_app.orderflow.catalogue import initial_stock
    from shadow.runtime import RuntimeSettings, ShadowWorker

    store = FlakyStore()
    store.ensure_schema(initial_stock())
    publish(broker, order_payload("flaky-1"))
    sleeps: list[float] = []
    worker = ShadowWorker(
        InMemoryConsumer(broker, "g"),
        InMemoryProducer(broker),
        store,
        FlowProcessor(RecordingEffects()),
        RuntimeSettings((TOPIC,), DLQ),
        sleep=sleeps.append,
    )
    worker.start()
    report = worker.step()
    assert report.statuses["done"] == 1 and report.dead_lettered == 0
    assert sleeps == [0.05]
    assert [o.order_id for o in store.outcomes()] == ["flaky-1"]


def test_tune_gc_freezes_the_start_up_heap_and_raises_the_young_threshold() -> None:
    import gc

    from shadow.runtime import GC_GEN0_THRESHOLD, tune_gc

    before = gc.get_threshold()
    try:
        tune_gc()
        assert gc.get_threshold() == (GC_GEN0_THRESHOLD, before[1], before[2])
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
