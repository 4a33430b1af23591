"""The order saga against the in-memory fakes: happy path, compensations, modes per context."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cutover import MemoryLedger, Mode
from legacy_app.contracts.values import OrderLine
from legacy_app.errors import DownstreamRejected
from legacy_app.fakes import FakeWorld, fake_downstreams
from legacy_app.flow import PlacedOrder, run_saga
from legacy_app.ledger import Migrations
from legacy_app.modes import StaticModes


def order(*lines: tuple[str, int, str], method: str = "card", oid: str = "o-1") -> PlacedOrder:
    priced = tuple(OrderLine(sku, qty, Decimal(price)) for sku, qty, price in lines)
    total = sum((ln.amount for ln in priced), Decimal("0"))
    return PlacedOrder(oid, "corr-1", "ada@example.com", priced, total, method)


def run(o: PlacedOrder, world: FakeWorld, modes: StaticModes | None = None, **kw: bool):
    ports, _ = fake_downstreams(world)
    ledger = MemoryLedger()
    return run_saga(o, ports, Migrations(modes or StaticModes(), ledger), **kw), ledger


def test_happy_path_reserves_charges_ships_and_confirms() -> None:
    world = FakeWorld()
    result, _ = run(order(("SKU-0001", 2, "6.25")), world)
    assert (result.status, result.reason) == ("completed", None)
    assert world.stock["SKU-0001"] == 1_000_000 - 2
    assert world.payments["o-1"] == ("captured", Decimal("12.50"))
    assert world.shipments["o-1"].carrier == "standard"
    assert [n.template for n in world.notifications.values()] == ["order_confirmation"]


def test_total_of_100_or_more_ships_express() -> None:
    world = FakeWorld()
    run(order(("SKU-0050", 2, "67.50")), world)
    assert world.shipments["o-1"].carrier == "express"


def test_out_of_stock_fails_without_reserving_or_charging() -> None:
    world = FakeWorld()
    result, _ = run(order(("SKU-0001", 1, "6.25"), ("SKU-OOS-1", 1, "9.99")), world)
    assert (result.status, result.reason) == ("failed", "out_of_stock")
    assert world.stock["SKU-0001"] == 1_000_000
    assert world.payments == {} and world.shipments == {}
    assert [n.template for n in world.notifications.values()] == ["order_failed"]


def test_declined_payment_releases_the_reservation() -> None:
    world = FakeWorld()
    result, _ = run(order(("SKU-0002", 3, "7.50"), method="card_declined"), world)
    assert (result.status, result.reason) == ("failed", "payment_declined")
    assert world.reservations["o-1"][0] == "released"
    assert world.stock["SKU-0002"] == 1_000_000
    assert world.payments["o-1"][0] == "declined"
    assert world.shipments == {}
    assert [n.template for n in world.notifications.values()] == ["payment_declined"]
    assert ("payment", "refund", False) not in world.calls


def test_payment_timeout_fails_the_order_and_compensates() -> None:
    world = FakeWorld()
    world.fail("payment")
    result, _ = run(order(("SKU-0003", 1, "8.75")), world)
    assert (result.status, result.reason) == ("failed", "payment_unavailable")
    assert world.reservations["o-1"][0] == "released"
    assert world.stock["SKU-0003"] == 1_000_000
    assert result.errors == ("payment.refund: timeout",)
    assert [n.template for n in world.notifications.values()] == ["order_failed"]


def test_shipping_timeout_refunds_and_releases() -> None:
    world = FakeWorld()
    world.fail("shipping")
    result, _ = run(order(("SKU-0004", 1, "10.00")), world)
    assert (result.status, result.reason) == ("failed", "shipping_unavailable")
    assert world.payments["o-1"] == ("refunded", Decimal("10.00"))
    assert world.reservations["o-1"][0] == "released"
    assert result.errors == ()


def test_inventory_timeout_fails_with_nothing_to_compensate() -> None:
    world = FakeWorld()
    world.fail("inventory")
    result, _ = run(order(("SKU-0004", 1, "10.00")), world)
    assert (result.status, result.reason) == ("failed", "inventory_unavailable")
    assert world.payments == {}


def test_rejected_call_is_reported_as_rejected() -> None:
    world = FakeWorld()
    world.fail("shipping", DownstreamRejected("shipping", "ship", 422, "bad total"))
    result, _ = run(order(("SKU-0004", 1, "10.00")), world)
    assert result.reason == "shipping_rejected"


def test_email_failure_does_not_fail_a_shipped_order() -> None:
    world = FakeWorld()
    world.fail("email")
    result, _ = run(order(("SKU-0005", 1, "11.25")), world)
    assert result.status == "completed"
    assert result.errors == ("email.notify: timeout",)


def test_calls_without_an_answer_are_named_and_rejections_are_not() -> None:
    world = FakeWorld()
    world.fail("payment")
    result, _ = run(order(("SKU-0003", 1, "8.75")), world)
    assert result.unavailable == ("payment.charge", "payment.refund")
    world = FakeWorld()
    world.fail("email")
    assert run(order(("SKU-0005", 1, "11.25")), world)[0].unavailable == ("email.notify",)
    world = FakeWorld()
    world.fail("shipping", DownstreamRejected("shipping", "ship", 422, "bad total"))
    assert run(order(("SKU-0004", 1, "10.00")), world)[0].unavailable == ()


def test_verify_run_commits_nothing_and_records_every_answer() -> None:
    world = FakeWorld()
    result, ledger = run(order(("SKU-0006", 2, "12.50")), world, verify_all=True)
    assert result.status == "completed"
    assert world.stock["SKU-0006"] == 1_000_000
    assert world.payments == {} and world.shipments == {} and world.notifications == {}
    assert [(r.context, r.operation) for r in ledger.verified] == [
        ("inventory", "reserve"),
        ("payment", "charge"),
        ("shipping", "ship"),
        ("email", "notify"),
    ]
    assert ledger.verified[1].answer == {"status": "captured", "amount": "25.00"}
    assert all(verify for _, _, verify in world.calls)


def test_verify_run_of_a_declined_order_records_release_and_decline() -> None:
    world = FakeWorld()
    result, ledger = run(
        order(("SKU-0006", 1, "12.50"), method="card_declined"), world, verify_all=True
    )
    assert result.reason == "payment_declined"
    ops = [(r.context, r.operation, r.answer.get("status")) for r in ledger.verified]
    assert ("payment", "charge", "declined") in ops
    assert ("inventory", "release", "released") in ops


def test_async_context_is_called_in_verify_mode_within_a_sync_flow() -> None:
    world = FakeWorld()
    modes = StaticModes({"payment": Mode.ASYNC})
    result, ledger = run(order(("SKU-0007", 1, "13.75")), world, modes)
    assert result.status == "completed"
    assert world.payments == {}
    assert ("payment", "charge", True) in world.calls
    assert [(r.context, r.operation) for r in ledger.verified] == [("payment", "charge")]


def test_events_only_context_is_never_called_and_the_attempt_is_counted() -> None:
    world = FakeWorld()
    modes = StaticModes({"shipping": Mode.EVENTS_ONLY})
    result, ledger = run(order(("SKU-0008", 1, "15.00")), world, modes)
    assert (result.status, result.reason) == ("failed", "shipping_sync_disabled")
    assert not any(svc == "shipping" for svc, _, _ in world.calls)
    assert [(b.key, b.context, b.operation) for b in ledger.blocked] == [
        ("o-1", "shipping", "ship")
    ]


@pytest.mark.parametrize("mode", [Mode.SYNC, Mode.DUAL, Mode.NAIVE_DUAL])
def test_sync_like_modes_call_for_real(mode: Mode) -> None:
    world = FakeWorld()
    modes = StaticModes()
    modes.set_all(mode)
    result, ledger = run(order(("SKU-0009", 1, "16.25")), world, modes)
    assert result.status == "completed"
    assert not any(verify for _, _, verify in world.calls)
    assert ledger.verified == [] and ledger.blocked == []
