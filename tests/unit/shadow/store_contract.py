"""One contract for every shadow-store adapter (subclassed by the unit and integration tiers)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from legacy_app.orderflow.changes import (
    AnalyticsRow,
    Changes,
    NotificationRow,
    OrderStatusRow,
    OutboxRow,
    PaymentRow,
    ProcessedRow,
    ReservationRow,
    SagaRow,
    ShipmentRow,
)
from shadow.store import AlreadyProcessedError, ShadowStore

T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


def order_changes(
    oid: str, *, ts: datetime = T0, status: str = "completed", event: str | None = None
) -> Changes:
    c = Changes()
    c.processed.append(ProcessedRow("shadow.flow", event or f"e-{oid}", ts))
    c.reservations[(oid, "SKU-0001")] = ReservationRow(oid, "SKU-0001", 2, False)
    c.stock_delta["SKU-0001"] = 2
    c.payments[oid] = PaymentRow(oid, Decimal("12.50"), "captured", 1)
    c.shipments[oid] = ShipmentRow(oid, "standard", "created")
    c.notifications[(oid, "order_confirmation")] = NotificationRow(
        oid, "order_confirmation", "a@b.c"
    )
    c.put_order(OrderStatusRow(oid, "corr", status, Decimal("12.50"), "a@b.c", ts, ts, ts))
    c.outbox.append(
        OutboxRow(
            f"00000000-0000-0000-0000-{abs(hash(oid)) % 10**12:012d}",
            "order",
            oid,
            "order.completed",
            {"order_id": oid},
            "corr",
            f"e-{oid}",
        )
    )
    c.sagas[oid] = SagaRow(oid, "completed", ("start", "end"), ts)
    return c


class StoreContract:
    """Subclasses provide the ``store`` fixture (schema ensured, SKU-0001 stocked with 100)."""

    def test_applied_changes_make_an_outcome(self, store: ShadowStore) -> None:
        with store.transaction() as tx:
            tx.apply(order_changes("o-1"))
        [out] = store.outcomes()
        assert (out.order_id, out.status, out.total, out.source) == (
            "o-1",
            "completed",
            Decimal("12.50"),
            "event",
        )
        assert out.payment is not None and out.payment.status == "captured"
        assert out.shipment is not None and out.shipment.carrier == "standard"
        assert [n.template for n in out.notifications] == ["order_confirmation"]
        assert out.reservation is not None and out.reservation.lines[0].qty == 2
        assert out.produced_at == T0

    def test_processed_ids_and_conflicting_claims(self, store: ShadowStore) -> None:
        with store.transaction() as tx:
            tx.apply(order_changes("o-2"))
        with store.transaction() as tx:
            assert tx.processed_ids("shadow.flow", ["e-o-2", "e-x"]) == {"e-o-2"}
            assert tx.processed_ids("other", ["e-o-2"]) == set()
        with pytest.raises(AlreadyProcessedError) as info, store.transaction() as tx:
            tx.apply(order_changes("o-2"))
        assert "e-o-2" in info.value.event_ids and info.value.consumer == "shadow.flow"

    def test_failed_transaction_writes_nothing(self, store: ShadowStore) -> None:
        with pytest.raises(RuntimeError), store.transaction() as tx:
            tx.apply(order_changes("o-3"))
            raise RuntimeError("boom")
        assert store.outcomes() == []
        with store.transaction() as tx:
            assert tx.lock_stock(["SKU-0001"]) == {"SKU-0001": 100}

    def test_savepoint_rolls_back_only_its_writes(self, store: ShadowStore) -> None:
        with store.transaction() as tx:
            tx.apply(order_changes("o-4"))
            with pytest.raises(RuntimeError), tx.savepoint():
                tx.apply(order_changes("o-5"))
                raise RuntimeError("undo o-5")
        assert [o.order_id for o in store.outcomes()] == ["o-4"]

    def test_encoded_changes_write_what_apply_writes(self, store: ShadowStore) -> None:
        encoded = store.encode(order_changes("o-enc"))  # outside any transaction
        with store.transaction() as tx:
            tx.apply_encoded(encoded)
        [outcome] = store.outcomes()
        assert outcome.order_id == "o-enc" and outcome.status == "completed"
        with store.transaction() as tx:
            assert tx.read_stock(["SKU-0001"]) == {"SKU-0001": 98}
        with pytest.raises(AlreadyProcessedError), store.transaction() as tx:
            tx.apply_encoded(store.encode(order_changes("o-enc")))

    def test_stock_moves_by_the_deltas(self, store: ShadowStore) -> None:
        with store.transaction() as tx:
            tx.apply(order_changes("o-6"))
        with store.transaction() as tx:
            assert tx.lock_stock(["SKU-0001", "NOPE"]) == {"SKU-0001": 98}
            assert tx.read_stock(["SKU-0001", "NOPE"]) == {"SKU-0001": 98}

    def test_final_status_is_never_moved_back(self, store: ShadowStore) -> None:
        with store.transaction() as tx:
            tx.apply(order_changes("o-7"))
        late = Changes()
        late.put_order(
            OrderStatusRow("o-7", "corr", "pending", Decimal("12.50"), "a@b.c", T0, None, T0)
        )
        with store.transaction() as tx:
            tx.apply(late)
        assert store.outcomes()[0].status == "completed"

    def test_pending_orders_have_no_outcome_yet(self, store: ShadowStore) -> None:
        c = Changes()
        c.put_order(
            OrderStatusRow("o-8", "corr", "pending", Decimal("1.00"), "a@b.c", T0, None, T0)
        )
        with store.transaction() as tx:
            tx.apply(c)
        assert store.outcomes() == []

    def test_anomalies_and_sequences_accumulate(self, store: ShadowStore) -> None:
        with store.transaction() as tx:
            tx.add_anomalies({("order", "duplicate"): 2, ("order", "gap"): 1})
            tx.set_sequences("flow", "order", {"a": 3})
        with store.transaction() as tx:
            tx.add_anomalies({("order", "duplicate"): 1})
            tx.set_sequences("flow", "order", {"a": 2})
            tx.set_sequences("analytics", "order", {"a": 1})
            assert tx.last_sequences("flow", "order", ["a", "b"]) == {"a": 3}
            assert tx.last_sequences("analytics", "order", ["a"]) == {"a": 1}
        assert store.anomaly_counts() == {"order": {"duplicate": 3, "gap": 1}}

    def test_analytics_increments_add_up(self, store: ShadowStore) -> None:
        for i in range(2):
            c = Changes()
            c.add_analytics(AnalyticsRow(T0, "SKU-0001", 1, 2, Decimal("12.50")))
            c.processed.append(ProcessedRow("shadow.analytics", f"a-{i}", T0))
            with store.transaction() as tx:
                tx.apply(c)
        assert store.table_counts()["analytics_product_minute"] == 1

    def test_rebuild_since_forgets_later_orders_and_gives_stock_back(
        self, store: ShadowStore
    ) -> None:
        with store.transaction() as tx:
            tx.apply(order_changes("old", ts=T0))
            tx.apply(order_changes("new", ts=T0 + timedelta(hours=1)))
        assert store.rebuild_since(T0 + timedelta(minutes=30)) == 1
        assert [o.order_id for o in store.outcomes()] == ["old"]
        with store.transaction() as tx:
            assert tx.lock_stock(["SKU-0001"]) == {"SKU-0001": 98}
            assert tx.processed_ids("shadow.flow", ["e-old", "e-new"]) == {"e-old"}

    def test_rows_for_existing_keys_merge_beside_new_ones(self, store: ShadowStore) -> None:
        """A batch mixing known and new keys: known rows are merged per table, new ones added."""
        first = order_changes("o-m1")
        with store.transaction() as tx:
            tx.apply(first)
        again = order_changes("o-m2", event="e-again")
        again.reservations[("o-m1", "SKU-0001")] = ReservationRow("o-m1", "SKU-0001", 2, True)
        again.payments["o-m1"] = PaymentRow("o-m1", Decimal("12.50"), "declined", 2)
        again.shipments["o-m1"] = ShipmentRow("o-m1", "express", "shipped")
        again.notifications[("o-m1", "order_confirmation")] = NotificationRow(
            "o-m1", "order_confirmation", "other@b.c"
        )
        again.outbox.append(replace(first.outbox[0], payload={"changed": True}))
        again.sagas["o-m1"] = SagaRow("o-m1", "compensated", ("start", "undo"), T0)
        with store.transaction() as tx:
            tx.apply(again)
        by_id = {o.order_id: o for o in store.outcomes()}
        assert set(by_id) == {"o-m1", "o-m2"}
        m1 = by_id["o-m1"]
        assert m1.reservation is not None and m1.reservation.released
        assert m1.payment is not None and (m1.payment.status, m1.payment.attempts) == (
            "declined",
            2,
        )
        assert m1.shipment is not None and m1.shipment.carrier == "express"
        assert [n.recipient for n in m1.notifications] == ["a@b.c"]  # first one kept
        counts = store.table_counts()
        assert (counts["outbox"], counts["sagas"], counts["processed_events"]) == (2, 2, 2)
