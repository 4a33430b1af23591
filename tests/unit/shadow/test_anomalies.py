"""Per-aggregate gaps and reorders from the ``aggregate_version`` header (in-memory fakes)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from legacy_app.orderflow.domain import Order
from legacy_app.orderflow.effects import RecordingEffects
from legacy_app.orderflow.processors import KNOWN_TYPES, AnalyticsProcessor, FlowProcessor
from legacy_app.orderflow.samples import order_payload, outbox_headers, outbox_value
from legacy_app.orderflow.store_memory import InMemoryStore
from shadow.anomalies import sequence_anomalies
from shadow.fakes import InMemoryBroker
from shadow.messages import InboundEvent, RawMessage, decode
from tests.unit.shadow.conftest import TOPIC, Flaky, WorkerFactory

RECORDED = Path(__file__).resolve().parents[2] / "data" / "debezium" / "outbox_event.json"
LIFECYCLE = frozenset({"order.created", "order.completed", "order.failed"})


class LifecycleProcessor(AnalyticsProcessor):
    """Takes every order lifecycle event and records nothing (so every one is sequence-checked)."""

    entry_types = LIFECYCLE

    def __init__(self) -> None:
        super().__init__("test.lifecycle")

    def parse(self, event: InboundEvent) -> Order:
        total = Decimal(str(event.payload.get("total", "0")))
        return Order(event.aggregate_id, "", "", (), total, "EUR", "")

    def apply(
        self, event: InboundEvent, parsed: object, changes: Any, batch: Any, scope: object
    ) -> None:
        assert isinstance(parsed, Order)
        return None


def decoded(headers: tuple[tuple[str, bytes], ...]) -> InboundEvent:
    msg = RawMessage(TOPIC, 0, 1, b"o-1", outbox_value(order_payload("o-1")), headers)
    ev = decode(msg, KNOWN_TYPES)
    assert isinstance(ev, InboundEvent)
    return ev


@pytest.mark.parametrize(
    ("value", "sequence"),
    [(b"2", 2), (b'"2"', 2), (b"0", None), (b"two", None), (b"-1", None)],
)
def test_aggregate_version_header_becomes_the_sequence(value: bytes, sequence: int | None) -> None:
    ev = decoded((*outbox_headers("e-1"), ("aggregate_version", value)))
    assert ev.sequence == sequence


def test_the_recorded_debezium_message_carries_version_1_as_plain_text() -> None:
    rec = json.loads(RECORDED.read_text())
    headers = tuple((k, None if v is None else v.encode()) for k, v in rec["headers"])
    assert ("aggregate_version", b"1") in headers  # Connect's SimpleHeaderConverter: decimal text
    msg = RawMessage(rec["topic"], 0, 0, rec["key"].encode(), rec["value"].encode(), headers)
    ev = decode(msg)
    assert isinstance(ev, InboundEvent) and ev.sequence == 1


def test_without_a_version_header_there_is_no_sequence() -> None:
    assert decoded(outbox_headers("e-1")).sequence is None


def ev(seq: int, eid: str, agg: str = "o-1") -> InboundEvent:
    return InboundEvent(eid, "order.created", agg, {}, sequence=seq, context="order")


@pytest.mark.parametrize(
    ("seqs", "last", "expected"),
    [
        ([1, 2], None, {}),
        ([2], None, {"gap": 1}),  # version 1 never arrived
        ([1, 3], None, {"gap": 1}),
        ([2, 1], None, {"gap": 1, "reorder": 1}),  # 2 overtook 1
        ([1, 1], None, {}),  # the same version again (another group, a redelivery): not counted
        ([2], 1, {}),
        ([1], 2, {"reorder": 1}),
        ([4], 2, {"gap": 1}),
    ],
)
def test_gaps_and_reorders_per_aggregate(
    seqs: list[int], last: int | None, expected: dict[str, int]
) -> None:
    events = [ev(s, f"e-{i}") for i, s in enumerate(seqs)]
    counts, high = sequence_anomalies(events, {} if last is None else {"o-1": last})
    assert {kind: n for (_ctx, kind), n in counts.items()} == expected
    assert high == {"o-1": max([*seqs, last or 0])}


def test_aggregates_are_checked_independently() -> None:
    counts, high = sequence_anomalies([ev(1, "a", "o-1"), ev(1, "b", "o-2"), ev(2, "c", "o-1")], {})
    assert counts == {} and high == {"o-1": 2, "o-2": 1}


def send(broker: InMemoryBroker, order_id: str, event_type: str, version: int, eid: str) -> None:
    payload = order_payload(order_id) if event_type == "order.created" else {"order_id": order_id}
    headers = (*outbox_headers(eid, event_type, "c"), ("aggregate_version", str(version).encode()))
    broker.append(TOPIC, order_id.encode(), outbox_value(payload), headers)


def test_a_worker_counts_a_missing_and_an_overtaken_version(
    broker: InMemoryBroker, store: InMemoryStore, make_worker: WorkerFactory
) -> None:
    send(broker, "ok", "order.created", 1, "ok-1")
    send(broker, "ok", "order.completed", 2, "ok-2")
    send(broker, "lost", "order.completed", 2, "lost-2")  # its order.created never came
    send(broker, "swap", "order.completed", 2, "swap-2")  # committed before its order.created
    send(broker, "swap", "order.created", 1, "swap-1")
    worker = make_worker(LifecycleProcessor())
    worker.step()
    assert store.anomaly_counts() == {"order": {"gap": 2, "reorder": 1}}
    name = "test.lifecycle"
    assert store.state.sequences == {
        (name, "order", "ok"): 2,
        (name, "order", "lost"): 2,
        (name, "order", "swap"): 2,
    }


def test_the_flow_worker_checks_the_events_it_ignores_too(
    broker: InMemoryBroker, store: InMemoryStore, make_worker: WorkerFactory
) -> None:
    """The flow takes only order.created, yet a lost one shows when its order.completed comes."""
    send(broker, "ok", "order.created", 1, "ok-1")
    send(broker, "ok", "order.completed", 2, "ok-2")
    send(broker, "lost", "order.completed", 2, "lost-2")
    report = make_worker(FlowProcessor(RecordingEffects()), group="flow").step()
    assert report.statuses["ignored"] == 2
    assert store.anomaly_counts() == {"order": {"gap": 1}}


def test_two_groups_sharing_a_store_see_version_1_without_a_reorder(
    broker: InMemoryBroker, store: InMemoryStore, make_worker: WorkerFactory
) -> None:
    for order_id in ("a", "b"):
        send(broker, order_id, "order.created", 1, f"{order_id}-1")
        send(broker, order_id, "order.completed", 2, f"{order_id}-2")
    make_worker(FlowProcessor(RecordingEffects()), group="flow").step()
    make_worker(AnalyticsProcessor(), group="analytics").step()
    assert len(store.outcomes()) == 2
    assert store.anomaly_counts() == {}


def test_a_deferred_partition_read_again_is_no_reorder(
    broker: InMemoryBroker, store: InMemoryStore, make_worker: WorkerFactory
) -> None:
    """Events behind a deferred one are read again after the pause: not a reorder, not a gap."""
    send(broker, "slow", "order.created", 1, "slow-1")
    send(broker, "slow", "order.completed", 2, "slow-2")
    now = [100.0]
    proc = Flaky("slow")
    worker = make_worker(proc, group="flow", clock=lambda: now[0])
    assert worker.step().paused
    proc.blocked = ""
    now[0] += 2.5
    report = worker.step()
    assert report.statuses["done"] == 1 and report.statuses["ignored"] == 1
    assert store.anomaly_counts() == {}
    assert store.state.sequences == {("shadow.flow", "order", "slow"): 2}
