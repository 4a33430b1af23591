"""The order flow's store: the runtime's store port plus what the flow reads (stock, outcomes).

:mod:`.store_pg` (PostgreSQL) and :mod:`.store_memory` (dicts, for unit tests) implement
it; ``tests/*/shadow/test_store_contract.py`` runs one contract against both.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from decimal import Decimal
from typing import Any, Protocol

from cutover.shadow import ShadowStore, StoreTx
from legacy_app.outcome import (
    Notification,
    Outcome,
    Payment,
    Reservation,
    ReservationLine,
    Shipment,
    money,
)


class OrderFlowTx(StoreTx, Protocol):
    """A store transaction with the flow's stock reads."""

    def lock_stock(self, skus: Collection[str]) -> dict[str, int]:
        """Available stock of ``skus``, locked until the transaction ends (unknown SKUs absent)."""

    def read_stock(self, skus: Collection[str]) -> dict[str, int]:
        """Available stock of ``skus`` as committed, without locking (unknown SKUs absent)."""


class OrderFlowStore(ShadowStore, Protocol):
    """The flow's shadow store: seeded stock and the event-side outcomes for comparators."""

    def ensure_schema(self, stock: Mapping[str, int] | None = None) -> None:
        """Create the tables if needed and seed ``stock`` (existing rows are kept)."""

    def transaction(self) -> AbstractContextManager[OrderFlowTx]:
        """Open a transaction; it commits when the block ends without an exception."""

    def outcomes(self, order_ids: Sequence[str] | None = None) -> list[Outcome]:
        """The event-side outcome of every finished order (or of ``order_ids``)."""


def outcome_from_row(row: Mapping[str, Any]) -> Outcome:
    """Build an event-side :class:`Outcome` from one row of the outcome query.

    ``reservation`` and ``notifications`` are lists of dicts (JSON aggregates);
    no reservation line means nothing was reserved (``reservation=None``), no
    payment row means no charge was attempted (``payment=None``).
    """
    lines = row.get("reservation") or []
    reservation = (
        Reservation(
            lines=tuple(ReservationLine(str(x["sku"]), int(x["qty"])) for x in lines),
            released=any(bool(x["released"]) for x in lines),
        )
        if lines
        else None
    )
    amount = row.get("amount")
    payment = (
        None
        if amount is None
        else Payment(money(amount), row["payment_status"], int(row.get("attempts") or 1))
    )
    carrier = row.get("carrier")
    shipment = None if carrier is None else Shipment(str(carrier), str(row["shipment_status"]))
    notes = row.get("notifications") or []
    return Outcome(
        order_id=str(row["order_id"]),
        correlation_id=str(row.get("correlation_id") or ""),
        status=row["status"],
        total=money(row["total"] if isinstance(row["total"], Decimal) else str(row["total"])),
        reservation=reservation,
        payment=payment,
        shipment=shipment,
        notifications=tuple(Notification(str(n["template"]), str(n["recipient"])) for n in notes),
        produced_at=row["produced_at"],
        source="event",
    )


def sorted_outcomes(rows: Iterator[Mapping[str, Any]]) -> list[Outcome]:
    """Outcomes of ``rows`` ordered by order id."""
    return sorted((outcome_from_row(r) for r in rows), key=lambda o: o.order_id)
