"""The sample's invariants (``legacy_app.invariants``), as its plan names them."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

from comparators.invariants import resolve
from legacy_app import invariants as inv
from legacy_app.outcome import Payment, Reservation, ReservationLine, Shipment
from tests.unit.comparators.factories import outcome, record


def test_good_completed_order_satisfies_every_invariant() -> None:
    for fn in inv.CHECKS:
        assert fn([record(1)]) is None, fn.__name__


def test_good_failed_order_satisfies_every_invariant() -> None:
    for fn in inv.CHECKS:
        assert fn([record(1, status="failed")]) is None, fn.__name__


def test_payment_captured_twice() -> None:
    assert inv.payment_captured_once([record(1), record(1)]) == "payment captured 2 times"


def test_completed_without_capture() -> None:
    rec = outcome(1, payment=Payment(Decimal("23.75"), "declined")).to_dict()
    assert inv.payment_captured_once([rec]) == "completed order without a captured payment"


def test_payment_not_equal_total() -> None:
    rec = outcome(1, payment=Payment(Decimal("20.00"), "captured")).to_dict()
    assert inv.payment_equals_total([rec]) == "captured 20.00 but total is 23.75"


def test_stock_checked_against_items_when_present() -> None:
    rec: dict[str, Any] = record(1)
    rec["items"] = [{"sku": "SKU-0001", "qty": 2}, {"sku": "SKU-0003", "qty": 2}]
    assert "ordered" in str(inv.stock_decremented_exactly([rec]))
    rec["items"][1]["qty"] = 1
    assert inv.stock_decremented_exactly([rec]) is None


def test_released_reservation_on_completed_order() -> None:
    rec = outcome(1, reservation=Reservation((ReservationLine("SKU-0001", 1),), True)).to_dict()
    assert inv.stock_decremented_exactly([rec]) == "completed order without a held reservation"


def test_shipment_for_unpaid_order() -> None:
    rec = outcome(1, payment=None, status="completed").to_dict()
    assert inv.one_shipment_per_paid_order([rec]) == "shipment for an unpaid order"


def test_two_notifications() -> None:
    assert inv.one_notification_per_order([record(1), record(1)]) == "2 notifications"


def test_failed_order_with_effects() -> None:
    rec = replace(outcome(1, status="failed"), shipment=Shipment("express", "created")).to_dict()
    assert inv.no_effect_for_failed_order([rec]) == "failed order with a shipment"


def test_the_plan_names_each_invariant_by_module_and_function() -> None:
    assert inv.NAMES[0] == "legacy_app.invariants:payment_captured_once"
    assert [resolve(n).name for n in inv.NAMES] == list(inv.NAMES)
