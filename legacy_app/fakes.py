"""In-memory fakes of the downstream services, behind the same ports as the HTTP adapters.

They follow the services' rules (stock, the deterministic decline, carrier by
total, dedupe by idempotency key) and can be told to fail a service: every
call to it then raises what a timed-out (or rejecting) service would cause.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from legacy_app.contracts.domain import carrier_for
from legacy_app.contracts.values import StockLine, money
from legacy_app.downstream import (
    Call,
    ChargeAnswer,
    Downstreams,
    NotifyAnswer,
    RefundAnswer,
    ReleaseAnswer,
    ReserveAnswer,
    ShipAnswer,
)
from legacy_app.errors import DownstreamError, DownstreamUnavailable
from legacy_app.seed import catalogue


@dataclass
class FakeWorld:
    """The shared state of the four fake services, and a log of every call."""

    stock: dict[str, int] = field(default_factory=lambda: {c.sku: c.stock for c in catalogue()})
    reservations: dict[str, tuple[str, tuple[StockLine, ...]]] = field(default_factory=dict)
    payments: dict[str, tuple[str, Decimal]] = field(default_factory=dict)
    shipments: dict[str, ShipAnswer] = field(default_factory=dict)
    notifications: dict[str, NotifyAnswer] = field(default_factory=dict)
    calls: list[tuple[str, str, bool]] = field(default_factory=list)
    failing: dict[str, DownstreamError | None] = field(default_factory=dict)

    def fail(self, service: str, error: DownstreamError | None = None) -> None:
        """Make every call to ``service`` raise ``error`` (default: unavailable after timeouts)."""
        self.failing[service] = error  # None: unavailable (timeouts) for the operation called

    def _enter(self, service: str, operation: str, verify: bool) -> None:
        self.calls.append((service, operation, verify))
        if service in self.failing:
            raise self.failing[service] or DownstreamUnavailable(service, operation, "timeout")


class FakeInventory:
    def __init__(self, world: FakeWorld) -> None:
        self.world = world

    def reserve(
        self, call: Call, lines: Sequence[StockLine], *, verify: bool = False
    ) -> ReserveAnswer:
        self.world._enter("inventory", "reserve", verify)
        if call.order_id in self.world.reservations and not verify:
            status, kept = self.world.reservations[call.order_id]
            return ReserveAnswer("rejected" if status == "rejected" else "reserved", kept)
        short = next((ln for ln in lines if self.world.stock.get(ln.sku, 0) < ln.qty), None)
        if short is not None:
            if not verify:
                self.world.reservations[call.order_id] = ("rejected", ())
            return ReserveAnswer("rejected", (), f"out_of_stock:{short.sku}")
        kept = tuple(sorted(lines, key=lambda ln: ln.sku))
        if not verify:
            for ln in kept:
                self.world.stock[ln.sku] -= ln.qty
            self.world.reservations[call.order_id] = ("reserved", kept)
        return ReserveAnswer("reserved", kept)

    def release(
        self, call: Call, lines: Sequence[StockLine], *, verify: bool = False
    ) -> ReleaseAnswer:
        self.world._enter("inventory", "release", verify)
        if verify:
            return ReleaseAnswer("released", tuple(lines))
        status, kept = self.world.reservations.get(call.order_id, ("none", ()))
        if status != "reserved":
            return ReleaseAnswer("none")
        for ln in kept:
            self.world.stock[ln.sku] += ln.qty
        self.world.reservations[call.order_id] = ("released", kept)
        return ReleaseAnswer("released", kept)


class FakePayment:
    def __init__(self, world: FakeWorld) -> None:
        self.world = world

    def charge(
        self, call: Call, amount: Decimal, payment_method: str, *, verify: bool = False
    ) -> ChargeAnswer:
        self.world._enter("payment", "charge", verify)
        if call.order_id in self.world.payments:
            status, kept = self.world.payments[call.order_id]
            return ChargeAnswer("declined" if status == "declined" else "captured", kept)
        status = "declined" if payment_method == "card_declined" else "captured"
        if not verify:
            self.world.payments[call.order_id] = (status, money(amount))
        return ChargeAnswer(status, money(amount))  # type: ignore[arg-type]

    def refund(self, call: Call, amount: Decimal, *, verify: bool = False) -> RefundAnswer:
        self.world._enter("payment", "refund", verify)
        status, kept = self.world.payments.get(call.order_id, ("none", Decimal("0.00")))
        if verify and status == "none":  # verify run: nothing captured for real
            return RefundAnswer("refunded", money(amount))
        if status != "captured":
            return RefundAnswer("none")
        if not verify:
            self.world.payments[call.order_id] = ("refunded", kept)
        return RefundAnswer("refunded", kept)


class FakeShipping:
    def __init__(self, world: FakeWorld) -> None:
        self.world = world

    def ship(self, call: Call, total: Decimal, *, verify: bool = False) -> ShipAnswer:
        self.world._enter("shipping", "ship", verify)
        answer = self.world.shipments.get(call.order_id) or ShipAnswer(
            carrier_for(total), "created"
        )
        if not verify:
            self.world.shipments[call.order_id] = answer
        return answer


class FakeEmail:
    def __init__(self, world: FakeWorld) -> None:
        self.world = world

    def notify(
        self, call: Call, template: str, recipient: str, *, verify: bool = False
    ) -> NotifyAnswer:
        self.world._enter("email", "notify", verify)
        answer = NotifyAnswer(template, recipient)
        if not verify:
            self.world.notifications.setdefault(call.key(f"notify:{template}"), answer)
        return answer


def fake_downstreams(world: FakeWorld | None = None) -> tuple[Downstreams, FakeWorld]:
    """The four fakes sharing one :class:`FakeWorld`."""
    w = world or FakeWorld()
    return Downstreams(FakeInventory(w), FakePayment(w), FakeShipping(w), FakeEmail(w)), w
