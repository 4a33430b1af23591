"""The shadow store port: a transaction that claims events and writes a batch of changes.

Two adapters implement it: :mod:`shadow.store_pg` (PostgreSQL, schema ``shadow``,
bulk writes through ``unnest``) and :mod:`shadow.store_memory` (dicts, for unit
tests). ``tests/*/shadow/test_store_contract.py`` runs one contract against both.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from events.outcome import (
    Notification,
    Outcome,
    Payment,
    Reservation,
    ReservationLine,
    Shipment,
    money,
)
from shadow.changes import Changes
from shadow.errors import ShadowError


class AlreadyProcessedError(ShadowError):
    """Raised by :meth:`StoreTx.apply` when another worker applied some of these events first.

    ``event_ids`` are the ids written together with the conflicting one(s); the runtime
    rolls back and redoes the batch, whose claim check then skips the done ones.
    """

    def __init__(self, consumer: str, event_ids: Collection[str]) -> None:
        super().__init__(f"{len(event_ids)} event(s) already processed by {consumer}")
        self.consumer = consumer
        self.event_ids = frozenset(event_ids)


class StoreWriteError(ShadowError):
    """Raised when the store refuses rows (constraint, data or SQL error): not worth retrying as is.

    ``cause`` is the driver's exception class name.
    """

    def __init__(self, cause: str, message: str) -> None:
        super().__init__(f"shadow store refused the write ({cause}): {message}")
        self.cause = cause


class StoreUnavailableError(ShadowError):
    """Raised when the store cannot be reached or the connection broke: retry later."""

    def __init__(self, cause: str, message: str) -> None:
        super().__init__(f"shadow store unavailable ({cause}): {message}")
        self.cause = cause


class StoreTx(Protocol):
    """One open shadow-store transaction."""

    def processed_ids(self, consumer: str, event_ids: Collection[str]) -> set[str]:
        """The subset of ``event_ids`` that ``consumer`` has already applied."""

    def lock_stock(self, skus: Collection[str]) -> dict[str, int]:
        """Available stock of ``skus``, locked until the transaction ends (unknown SKUs absent)."""

    def read_stock(self, skus: Collection[str]) -> dict[str, int]:
        """Available stock of ``skus`` as committed, without locking (unknown SKUs absent)."""

    def apply(self, changes: Changes) -> None:
        """Write ``changes``; processed rows first (a conflict raises AlreadyProcessedError)."""

    def apply_encoded(self, encoded: object) -> None:
        """Write changes encoded by :meth:`ShadowStore.encode` whose keys are expected to be
        new; where one exists the adapter may merge it or fail the transaction with
        :class:`StoreWriteError` (processed rows as in :meth:`apply`)."""

    def add_anomalies(self, counts: Mapping[tuple[str, str], int]) -> None:
        """Add ``(context, kind) -> n`` to the delivery-anomaly counters."""

    def last_sequences(
        self, consumer: str, context: str, aggregate_ids: Collection[str]
    ) -> dict[str, int]:
        """The highest sequence ``consumer`` has seen per aggregate of ``context``."""

    def set_sequences(self, consumer: str, context: str, sequences: Mapping[str, int]) -> None:
        """Remember the highest sequence ``consumer`` has seen per aggregate."""

    def savepoint(self) -> AbstractContextManager[None]:
        """A nested transaction: an exception inside rolls back only its writes."""


class ShadowStore(Protocol):
    """The shadow store: schema, transactions and the read side used by comparators."""

    schema: str

    def ensure_schema(self, stock: Mapping[str, int] | None = None) -> None:
        """Create the tables if needed and seed ``stock`` (existing rows are kept)."""

    def encode(self, changes: Changes) -> object:
        """``changes`` made ready for :meth:`StoreTx.apply_encoded` of any transaction of this
        store kind; pure, so one thread can encode while another writes."""

    def transaction(self) -> AbstractContextManager[StoreTx]:
        """Open a transaction; it commits when the block ends without an exception."""

    def outcomes(self, order_ids: Sequence[str] | None = None) -> list[Outcome]:
        """The event-side outcome of every finished order (or of ``order_ids``)."""

    def anomaly_counts(self) -> dict[str, dict[str, int]]:
        """Delivery anomalies per context: ``{context: {kind: count}}``."""

    def table_counts(self) -> dict[str, int]:
        """Rows per shadow table (for status and tests)."""

    def rebuild_since(self, since: datetime) -> int:
        """Forget what was derived from events at or after ``since``; returns orders forgotten."""

    def close(self) -> None:
        """Release connections."""


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
