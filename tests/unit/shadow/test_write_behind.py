"""Write-behind: batch N+1's handlers run while batch N is written by a second thread.

Each test checks what the serial path guarantees — same outcomes and stock, offsets only
after the commit, key order, nothing lost or applied twice — on the paths where the overlap
has to be undone: stock changed by another worker, a refused write, a partition paused while
the batch read since was being handled.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from legacy_app.orderflow.catalogue import initial_stock
from legacy_app.orderflow.changes import Changes
from legacy_app.orderflow.domain import Order
from legacy_app.orderflow.effects import RecordingEffects
from legacy_app.orderflow.processors import FlowProcessor
from legacy_app.orderflow.samples import order_payload
from legacy_app.orderflow.store_memory import InMemoryStore, MemoryStoreTx
from legacy_app.outcome import Outcome
from shadow.fakes import InMemoryBroker, InMemoryProducer
from shadow.messages import InboundEvent
from shadow.runtime import ShadowWorker
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
from tests.unit.shadow.test_runtime import FakeClock, publish_to


def run_idle(worker: ShadowWorker, limit: int = 50) -> dict[str, int]:
    """Step until a step reads nothing (which settles the batch being written); statuses."""
    total: dict[str, int] = {}
    for _ in range(limit):
        report = worker.step()
        for status, n in report.statuses.items():
            total[status] = total.get(status, 0) + n
        if report.consumed == 0:
            return total
    raise AssertionError("the worker never went idle")


def comparable(outcomes: list[Outcome]) -> list[dict[str, Any]]:
    out = []
    for o in outcomes:
        data = o.to_dict()
        data.pop("produced_at")
        out.append(data)
    return out


def orders(n: int) -> list[dict[str, Any]]:
    """Orders over a few SKUs, some out of stock, some declined."""
    skus = ["SKU-0001", "SKU-0002", "SKU-0003", "SKU-OOS-1"]
    return [
        order_payload(
            f"wb-{i:03d}",
            [(skus[i % 4], 1 + i % 3), (skus[(i + 1) % 3], 1)],
            payment_method="card_declined" if i % 7 == 3 else "card",
        )
        for i in range(n)
    ]


def test_write_behind_reaches_the_serial_outcomes_stock_and_offsets(
    broker: InMemoryBroker, store: InMemoryStore, make_worker: WorkerFactory
) -> None:
    twin_broker, twin_store = InMemoryBroker(partitions=3), InMemoryStore()
    twin_store.ensure_schema(initial_stock())
    for payload in orders(40):
        eid = f"e-{payload['order_id']}"
        publish(broker, payload, event_id=eid)
        publish(twin_broker, payload, event_id=eid)
    behind = worker_on(broker, store, writer=store, batch_size=7)
    statuses = run_idle(behind)
    behind.close()
    serial = worker_on(twin_broker, twin_store, batch_size=7)
    run_idle(serial)
    serial.close()

    assert statuses == {"done": 40}
    assert behind.redone_behind == 0, "nothing forced a serial redo"
    assert comparable(store.outcomes()) == comparable(twin_store.outcomes())
    assert len(store.outcomes()) == 40
    assert store.state.stock == twin_store.state.stock
    assert store.state.outbox.keys() == twin_store.state.outbox.keys()
    assert sum(broker.committed.values()) == 40 == sum(twin_broker.committed.values())


def test_offsets_are_stored_only_once_the_batch_written_behind_committed(
    broker: InMemoryBroker, store: InMemoryStore, make_worker: WorkerFactory
) -> None:
    for i in range(3):
        publish(broker, order_payload(f"c-{i}"))
    worker = make_worker(writer=store)
    report = worker.step()
    assert report.consumed == 3 and report.statuses == {}, "settled by a later step"
    assert worker.consumer.stored == {}, "nothing stored while the batch is being written"
    worker.close()  # finishes the write first
    assert len(store.outcomes()) == 3
    assert sum(broker.committed.values()) == 3


def test_stock_taken_by_another_worker_makes_the_batch_redo_serially(
    broker: InMemoryBroker, make_worker: WorkerFactory, store: InMemoryStore
) -> None:
    store.state.stock["SKU-0001"] = 10
    publish(broker, order_payload("first", [("SKU-0001", 3)]))
    worker = make_worker(writer=store)
    worker.step()  # "first" written behind; the worker's cache now says 7 left
    run_idle(worker)
    with store.transaction() as tx:  # another worker of the group takes 5: 2 left
        tx.apply(Changes(stock_delta={"SKU-0001": 5}))
    publish(broker, order_payload("second", [("SKU-0001", 3)]))
    worker.step()  # handlers decide from the cache (7 left): reserve
    run_idle(worker)  # the write finds 2, not 7: redone serially, out of stock
    worker.close()

    assert worker.redone_behind == 1
    assert (
        worker.metrics.registry.get_sample_value(
            "shadow_batches_redone_serially_total", {"reason": "StaleReadError"}
        )
        == 1
    )
    by_id = {o.order_id: o for o in store.outcomes()}
    assert by_id["first"].reservation is not None
    assert by_id["second"].status == "failed" and by_id["second"].reservation is None
    assert store.state.stock["SKU-0001"] == 2
    assert sum(broker.committed.values()) == 2


class RefusingOnceStore(PatchedTxStore):
    """Its first write-behind write is refused, as a constraint would; the serial path works."""

    refused = 0

    def patch(self, tx: MemoryStoreTx) -> None:
        original = tx.apply_encoded

        def apply_encoded(encoded: object) -> None:
            if self.refused == 0:
                self.refused += 1
                raise StoreWriteError("UniqueViolation", "key exists after all")
            original(encoded)

        tx.apply_encoded = apply_encoded  # type: ignore[method-assign]


def test_a_refused_write_redoes_that_batch_and_the_next_serially_losing_nothing(
    broker: InMemoryBroker,
) -> None:
    store = RefusingOnceStore()
    store.ensure_schema(initial_stock())
    for i in range(5):
        publish(broker, order_payload(f"a-{i}", [("SKU-0004", 2)]))
    worker = worker_on(broker, store, writer=store, batch_size=5)
    worker.step()  # batch 1 written behind: refused in the writer thread
    for i in range(5):
        publish(broker, order_payload(f"b-{i}", [("SKU-0004", 1)]))
    report = worker.step()  # batch 2's handlers ran; batch 1 failed: both redone serially
    assert report.statuses == {"done": 10}, "both settled in this step"
    assert run_idle(worker) == {}
    worker.close()

    assert store.refused == 1 and worker.redone_behind == 2
    redone = worker.metrics.registry.get_sample_value
    name = "shadow_batches_redone_serially_total"
    assert redone(name, {"reason": "StoreWriteError"}) == 1
    assert redone(name, {"reason": "previous_batch"}) == 1
    assert len(store.outcomes()) == 10
    assert len(store.state.processed) == 10, "each event applied once"
    assert store.state.stock["SKU-0004"] == initial_stock()["SKU-0004"] - 15
    assert sum(broker.committed.values()) == 10


def test_a_deferred_event_keeps_its_partition_in_order_while_written_behind(
    broker: InMemoryBroker, store: InMemoryStore, make_worker: WorkerFactory
) -> None:
    clock = FakeClock()
    proc = Flaky("blocked")
    for oid, part in (("blocked", 0), ("after", 0), ("other", 1)):
        publish_to(broker, oid, part)
    worker = make_worker(proc, clock=clock, writer=store)
    worker.step()
    assert worker.consumer.paused == {(TOPIC, 0)}, "paused before the next read"
    report = worker.step()  # reads nothing: settles the first batch
    assert report.statuses == {"done": 1, "deferred": 2}
    assert {o.order_id for o in store.outcomes()} == {"other"}
    assert worker.consumer.stored.get((TOPIC, 0), 0) == 0
    proc.blocked = ""
    clock.now += 2.5
    run_idle(worker)
    worker.close()
    assert {o.order_id for o in store.outcomes()} == {"other", "blocked", "after"}
    assert sum(broker.committed.values()) == 3


def test_a_partition_paused_while_settling_holds_the_records_read_since(
    broker: InMemoryBroker, store: InMemoryStore, make_worker: WorkerFactory
) -> None:
    broker.append(TOPIC, b"k", b"{broken", (("id", b"x"), ("type", b"order.created")), partition=0)
    producer = InMemoryProducer(broker, fail=True)  # the dead-letter topic is unreachable
    worker = make_worker(writer=store, producer=producer)
    worker.step()  # the poison record is written behind (nothing to write but its offset)
    publish_to(broker, "later", 0)
    publish_to(broker, "elsewhere", 1)
    report = worker.step()
    # settling batch 1 could not dead-letter: partition 0 paused at the poison record, so
    # "later" (already read) must wait for it; "elsewhere" goes on
    assert report.paused == [(TOPIC, 0)]
    assert worker.redone_behind == 1
    assert worker.consumer.stored.get((TOPIC, 0), 0) == 0
    run_idle(worker)
    assert {o.order_id for o in store.outcomes()} == {"elsewhere"}
    producer.fail = False
    worker._clock = lambda: 1e12  # the pause is over
    run_idle(worker)
    worker.close()
    assert {o.order_id for o in store.outcomes()} == {"elsewhere", "later"}
    assert len(broker.records(DLQ)) == 1


class ReadCountingStore(InMemoryStore):
    """Counts the transactions opened on the worker's own thread (the writer's are not)."""

    def __init__(self) -> None:
        super().__init__()
        self.main_thread_transactions = 0

    @contextmanager
    def transaction(self) -> Iterator[MemoryStoreTx]:
        if threading.current_thread() is threading.main_thread():
            self.main_thread_transactions += 1
        with super().transaction() as tx:
            yield tx


def test_a_batch_with_nothing_to_handle_opens_no_read_transaction(
    broker: InMemoryBroker,
) -> None:
    store = ReadCountingStore()
    store.ensure_schema(initial_stock())
    for i in range(5):  # known types the flow does not take from Kafka: ignored
        publish(broker, order_payload(f"done-{i}"), event_type="order.completed")
    worker = worker_on(broker, store, writer=store, batch_size=10)
    statuses = run_idle(worker)
    assert statuses == {"ignored": 5}
    assert store.main_thread_transactions == 0, "no claim check or stock read to do"
    publish(broker, order_payload("real"), event_id="e-real")
    run_idle(worker)
    worker.close()
    assert store.main_thread_transactions == 1  # the claim check of the one pending event
    assert [o.order_id for o in store.outcomes()] == ["real"]
    assert sum(broker.committed.values()) == 6


class FailsAfterRecording(FlowProcessor):
    """The flow, failing for one order after its handlers recorded everything: ``times``
    times, then it works (a bug that leaves rows in the buffer it wrote to)."""

    def __init__(self, order_id: str, times: int) -> None:
        super().__init__(RecordingEffects())
        self.order_id, self.times = order_id, times

    def apply(
        self, event: InboundEvent, parsed: object, changes: Any, batch: Any, scope: object
    ) -> None:
        assert isinstance(parsed, Order)
        order = parsed
        super().apply(event, parsed, changes, batch, scope)
        if order.order_id == self.order_id and self.times > 0:
            self.times -= 1
            raise RuntimeError("bug after recording")


def test_a_handler_failing_once_while_written_behind_leaves_no_trace_of_the_first_try(
    broker: InMemoryBroker, store: InMemoryStore, make_worker: WorkerFactory
) -> None:
    for i in range(6):
        publish(broker, order_payload(f"d-{i}", [("SKU-0005", 2)]), event_id=f"e-d-{i}")
    worker = make_worker(FailsAfterRecording("d-2", times=1), writer=store)
    statuses = run_idle(worker)
    worker.close()
    assert statuses == {"done": 6}
    assert len(store.state.outbox) == 6 * 5
    assert store.state.stock["SKU-0005"] == initial_stock()["SKU-0005"] - 12, "taken once each"
    assert worker.redone_behind == 0, "the write itself went as planned"


def test_a_handler_that_always_fails_while_written_behind_is_dead_lettered_alone(
    broker: InMemoryBroker, store: InMemoryStore, make_worker: WorkerFactory
) -> None:
    for i in range(6):
        publish(broker, order_payload(f"f-{i}", [("SKU-0006", 1)]), event_id=f"e-f-{i}")
    worker = make_worker(FailsAfterRecording("f-4", times=99), writer=store)
    statuses = run_idle(worker)
    worker.close()
    assert statuses == {"done": 5, "poison": 1}
    assert {o.order_id for o in store.outcomes()} == {f"f-{i}" for i in range(6)} - {"f-4"}
    assert store.state.stock["SKU-0006"] == initial_stock()["SKU-0006"] - 5
    assert [m.header("type") for m in broker.records(DLQ)] == ["order.created"]
    failed = worker.metrics.registry.get_sample_value(
        "shadow_events_failed_total", {"reason": "handler_error"}
    )
    assert failed == 3, "the usual path's attempts, not the direct try"


def test_scarce_stock_within_one_batch_written_behind_is_taken_unit_by_unit(
    broker: InMemoryBroker, store: InMemoryStore, make_worker: WorkerFactory
) -> None:
    store.state.stock["SKU-0009"] = 10
    for i in range(8):  # 16 units asked of 10, in one batch: five orders get them
        publish(broker, order_payload(f"s-{i}", [("SKU-0009", 2)]), event_id=f"e-s-{i}")
    worker = make_worker(writer=store, batch_size=8)
    assert run_idle(worker) == {"done": 8}
    worker.close()
    assert sum(1 for o in store.outcomes() if o.reservation) == 5
    assert store.state.stock["SKU-0009"] == 0
