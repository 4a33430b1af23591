"""The sample's outcome record: what one path did for one order.

Both of the sample's paths produce, per order, one :class:`Outcome` of the same shape (its
sync side in :mod:`legacy_app.outcomes`, its order flow's in :mod:`legacy_app.orderflow`);
the rehearsal's outcome callables hand them to the comparators, which read any record as a
mapping (:meth:`Outcome.to_dict`, plus ``extra``) and know nothing of this shape: the sample's
plan says which paths are decimals and which lists are unordered. ``source`` says which path
made it:
``sync`` (legacy tables), ``event`` (shadow store) or ``verify`` (phase-4
verify-mode results).

Values are plain, hashable and JSON-friendly: amounts are :class:`~decimal.Decimal`
with two places, times are timezone-aware UTC datetimes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Literal

OutcomeStatus = Literal["completed", "failed"]
PaymentStatus = Literal["captured", "declined", "refunded", "none"]
OutcomeSource = Literal["sync", "event", "verify"]

CENT = Decimal("0.01")


def money(value: Decimal | int | str | float) -> Decimal:
    """Amount to two places, banker's rounding; floats go through ``str`` to avoid binary noise."""
    dec = value if isinstance(value, Decimal) else Decimal(str(value))
    return dec.quantize(CENT, rounding=ROUND_HALF_EVEN)


@dataclass(frozen=True, slots=True)
class ReservationLine:
    """One reserved product line."""

    sku: str
    qty: int


@dataclass(frozen=True, slots=True)
class Reservation:
    """Stock reserved for the order, and whether it was released (compensation)."""

    lines: tuple[ReservationLine, ...] = ()
    released: bool = False


@dataclass(frozen=True, slots=True)
class Payment:
    """What the payment context did for the order."""

    amount: Decimal
    status: PaymentStatus
    attempts: int = 1


@dataclass(frozen=True, slots=True)
class Shipment:
    """The shipment created for a paid order."""

    carrier: str
    status: str


@dataclass(frozen=True, slots=True)
class Notification:
    """A notification recorded for the order (nothing is really sent)."""

    template: str
    recipient: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """Everything one path did for one order."""

    order_id: str
    correlation_id: str
    status: OutcomeStatus
    total: Decimal
    reservation: Reservation | None
    payment: Payment | None
    shipment: Shipment | None
    notifications: tuple[Notification, ...]
    produced_at: datetime
    source: OutcomeSource
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (decimals as strings, times ISO 8601), for diffs and reports."""
        return {
            "order_id": self.order_id,
            "correlation_id": self.correlation_id,
            "status": self.status,
            "total": str(self.total),
            "reservation": None
            if self.reservation is None
            else {
                "lines": [{"sku": ln.sku, "qty": ln.qty} for ln in self.reservation.lines],
                "released": self.reservation.released,
            },
            "payment": None
            if self.payment is None
            else {
                "amount": str(self.payment.amount),
                "status": self.payment.status,
                "attempts": self.payment.attempts,
            },
            "shipment": None
            if self.shipment is None
            else {"carrier": self.shipment.carrier, "status": self.shipment.status},
            "notifications": [
                {"template": n.template, "recipient": n.recipient} for n in self.notifications
            ],
            "produced_at": self.produced_at.astimezone(UTC).isoformat(),
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Outcome:
        """Inverse of :meth:`to_dict`."""
        res = data.get("reservation")
        pay = data.get("payment")
        ship = data.get("shipment")
        produced = data["produced_at"]
        return cls(
            order_id=str(data["order_id"]),
            correlation_id=str(data.get("correlation_id") or ""),
            status=data["status"],
            total=money(data["total"]),
            reservation=None
            if res is None
            else Reservation(
                lines=tuple(ReservationLine(str(x["sku"]), int(x["qty"])) for x in res["lines"]),
                released=bool(res.get("released", False)),
            ),
            payment=None
            if pay is None
            else Payment(money(pay["amount"]), pay["status"], int(pay.get("attempts", 1))),
            shipment=None if ship is None else Shipment(str(ship["carrier"]), str(ship["status"])),
            notifications=tuple(
                Notification(str(n["template"]), str(n["recipient"]))
                for n in data.get("notifications", [])
            ),
            produced_at=produced
            if isinstance(produced, datetime)
            else datetime.fromisoformat(str(produced)),
            source=data["source"],
        )
