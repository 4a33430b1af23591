"""One contract for the repair's outbox writers (in memory; Postgres on the legacy schema).

Subclasses provide ``make_writer(orders)``: an outbox beside order version counters
(``orders``: order id -> current version; ``versioned_outbox=False`` for an outbox
without the ``aggregate_version`` column), then read back ``written_versions()``
(event id -> the row's version, 0 when unversioned) and ``order_versions()``. The
tests prove both writers number repair events as the legacy app numbers its own.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from comparators.outbox import OutboxWriter
from comparators.repair import OutboxEvent

_NS = uuid.UUID("0b8e5a64-32f1-4c5e-9a55-7d1f3c0d2e11")


def repair_event(key: str, run_id: str = "r1", event_type: str = "order.created") -> OutboxEvent:
    return OutboxEvent(
        id=uuid.uuid5(_NS, f"{run_id}/{event_type}/{key}"),
        aggregatetype=event_type.split(".", 1)[0],
        aggregateid=key,
        type=event_type,
        payload={"order_id": key, "repair": True},
        correlation_id=f"corr-{key}",
        causation_id=f"repair:{run_id}",
    )


class OutboxWriterContract:
    def make_writer(
        self, orders: Mapping[str, int], *, versioned_outbox: bool = True
    ) -> OutboxWriter:
        raise NotImplementedError

    def written_versions(self) -> dict[str, int]:
        raise NotImplementedError

    def order_versions(self) -> dict[str, int]:
        raise NotImplementedError

    def test_a_repair_event_takes_its_orders_next_version(self) -> None:
        writer = self.make_writer({"o-1": 2, "o-2": 1})
        one, two = repair_event("o-1"), repair_event("o-2")
        assert writer.write([one, two]) == 2
        assert self.written_versions() == {str(one.id): 3, str(two.id): 2}
        assert self.order_versions() == {"o-1": 3, "o-2": 2}

    def test_the_same_run_again_writes_and_advances_nothing(self) -> None:
        writer = self.make_writer({"o-1": 2})
        assert writer.write([repair_event("o-1")]) == 1
        assert writer.write([repair_event("o-1")]) == 0
        assert self.written_versions() == {str(repair_event("o-1").id): 3}
        assert self.order_versions() == {"o-1": 3}

    def test_an_event_repeated_in_one_batch_is_written_and_counted_once(self) -> None:
        writer = self.make_writer({"o-1": 2})
        assert writer.write([repair_event("o-1"), repair_event("o-1")]) == 1
        assert self.order_versions() == {"o-1": 3}

    def test_events_of_one_order_are_numbered_in_the_order_given(self) -> None:
        writer = self.make_writer({"o-1": 2})
        created, completed = repair_event("o-1"), repair_event("o-1", event_type="order.completed")
        assert writer.write([created, completed]) == 2
        later = repair_event("o-1", run_id="r2")
        assert writer.write([later]) == 1
        assert self.written_versions() == {
            str(created.id): 3,
            str(completed.id): 4,
            str(later.id): 5,
        }
        assert self.order_versions() == {"o-1": 5}

    def test_an_order_without_a_row_gets_an_unversioned_event(self) -> None:
        writer = self.make_writer({"o-1": 2})
        stray = repair_event("o-9")
        assert writer.write([stray]) == 1
        assert self.written_versions() == {str(stray.id): 0}
        assert self.order_versions() == {"o-1": 2}

    def test_aggregate_types_without_a_counter_are_unversioned(self) -> None:
        writer = self.make_writer({"o-1": 2})
        payment = repair_event("o-1", event_type="payment.completed")
        assert writer.write([payment]) == 1
        assert self.written_versions() == {str(payment.id): 0}
        assert self.order_versions() == {"o-1": 2}

    def test_an_outbox_without_the_version_column_is_written_unversioned(self) -> None:
        writer = self.make_writer({"o-1": 2}, versioned_outbox=False)
        event = repair_event("o-1")
        assert writer.write([event]) == 1
        assert self.written_versions() == {str(event.id): 0}
        assert self.order_versions() == {"o-1": 2}
