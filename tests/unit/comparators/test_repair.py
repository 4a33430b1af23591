from __future__ import annotations

from collections.abc import Mapping

from comparators.diff import Scope, observe
from comparators.outbox import InMemoryOutbox, OutboxWriter
from comparators.repair import default_payload, propose
from comparators.rules import CompareOptions
from tests.unit.comparators.factories import LATER, obs, pair
from tests.unit.comparators.outbox_contract import OutboxWriterContract


def _plan(run_id: str = "r1"):  # type: ignore[no-untyped-def]
    c1, d1 = pair(1, total="1.00")
    results = observe(
        [c1, obs(2), obs(3)],
        [d1, obs(3, source="event")],
        CompareOptions(key="order_id"),
        Scope(now=LATER),
    )
    return propose(results, "order.created", run_id)


def test_missing_key_gets_a_compensating_outbox_event_carrying_the_control_outcome() -> None:
    plan = _plan()
    (event,) = plan.events
    assert event.aggregateid == "ord-000002"
    assert event.aggregatetype == "order" and event.type == "order.created"
    assert event.causation_id == "repair:r1" and event.correlation_id == "corr-2"
    assert event.payload["repair"] is True and event.payload["outcome"]["total"] == "23.75"


def test_a_payload_builder_shapes_the_event() -> None:
    c1, _ = pair(1)
    results = observe([c1], [], CompareOptions(key="order_id"), Scope(now=LATER))
    plan = propose(results, "order.created", "r1", lambda t, c: {"type": t, "id": c["order_id"]})
    assert plan.events[0].payload == {"type": "order.created", "id": "ord-000001"}


def test_divergent_key_is_reported_not_repaired() -> None:
    plan = _plan()
    assert [d.key for d in plan.divergent] == ["ord-000001"]
    assert [x.path for x in plan.divergent[0].differences] == ["payment.amount", "total"]


def test_same_run_id_is_idempotent() -> None:
    outbox = InMemoryOutbox()
    assert outbox.write(_plan("r1").events) == 1
    assert outbox.write(_plan("r1").events) == 0
    assert outbox.write(_plan("r2").events) == 1


def test_the_default_payload_is_the_outcome_marked_as_a_repair() -> None:
    payload = default_payload("loan.opened", {"loan_id": "l-1", "fee": "2.00"})
    assert payload == {"outcome": {"loan_id": "l-1", "fee": "2.00"}, "repair": True}


class TestInMemoryOutboxContract(OutboxWriterContract):
    def make_writer(
        self, orders: Mapping[str, int], *, versioned_outbox: bool = True
    ) -> OutboxWriter:
        self.orders = dict(orders)  # an outbox without versions leaves them alone
        counters = {("order", k): v for k, v in orders.items()} if versioned_outbox else None
        self.outbox = InMemoryOutbox(counters)
        return self.outbox

    def written_versions(self) -> dict[str, int]:
        return dict(self.outbox.aggregate_versions)

    def order_versions(self) -> dict[str, int]:
        counted = {k: v for (t, k), v in self.outbox.versions.items() if t == "order"}
        return {**self.orders, **counted}
