"""Tables of the sample monolith, one group per bounded context (SQLAlchemy 2.0 typed style).

* ``order``: customers, products (the catalogue: prices), orders, order_items,
  the transactional ``outbox`` (Debezium Outbox Event Router layout), and the
  cutover bookkeeping of the order service: verify results (phase 4) and
  blocked sync calls (phase 5).
* ``inventory``: inventory_stock, inventory_reservations (+ lines).
* ``payment``: payments.  ``shipping``: shipments.  ``email``: notifications.

Each downstream service only touches its own tables; each effect row carries
the idempotency key of the request that made it (unique), which is how a
retried call is applied once.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

JsonDoc = JSON().with_variant(JSONB(), "postgresql")
Money = Numeric(12, 2)


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_uuid() -> str:
    return str(uuid.uuid4())


class Base(DeclarativeBase):
    """Declarative base of every legacy table."""


def _ts() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), default=utcnow, server_default=func.now())


# ---------------------------------------------------------------- order context
class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320), unique=True)
    created_at: Mapped[datetime] = _ts()


class Product(Base):
    __tablename__ = "products"

    sku: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    price: Mapped[Decimal] = mapped_column(Money)


class Order(Base):
    """An order; ``version`` counts its state changes (1 when created, 2 once finished).

    Every event of the order carries the version its change produced (the outbox's
    ``aggregate_version``); it is bumped by the UPDATE that makes the change, so the
    row lock hands out each version once and commits follow version order.
    """

    __tablename__ = "orders"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    customer_email: Mapped[str] = mapped_column(String(320))
    status: Mapped[str] = mapped_column(String(20), index=True)
    total: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    payment_method: Mapped[str] = mapped_column(String(40))
    mode: Mapped[str] = mapped_column(String(20))
    correlation_id: Mapped[str] = mapped_column(String(255), index=True)
    failure_reason: Mapped[str | None] = mapped_column(String(200), default=None)
    compensation_errors: Mapped[str | None] = mapped_column(String(1000), default=None)
    created_at: Mapped[datetime] = _ts()
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))

    items: Mapped[list[OrderItem]] = relationship(
        back_populates="order", order_by="OrderItem.line_no", cascade="all, delete-orphan"
    )


class OrderItem(Base):
    __tablename__ = "order_items"

    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), primary_key=True)
    line_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    sku: Mapped[str] = mapped_column(ForeignKey("products.sku"))
    qty: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[Decimal] = mapped_column(Money)

    order: Mapped[Order] = relationship(back_populates="items")


class OutboxEvent(Base):
    """The Debezium Outbox Event Router layout shared by the whole team.

    ``aggregate_version`` is the event's position in its aggregate's history (the
    order's ``version`` after the change, 1 for ``order.created``); the router sends
    it as the ``aggregate_version`` header. ``0`` (the default) marks a row from a
    writer that does not know the version (e.g. a repair whose outbox or order row
    cannot be versioned): consumers do not check it. A partial unique index forbids two rows with the same version of one aggregate.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        Index(
            "uq_outbox_aggregate_version",
            "aggregatetype",
            "aggregateid",
            "aggregate_version",
            unique=True,
            postgresql_where=text("aggregate_version > 0"),
            sqlite_where=text("aggregate_version > 0"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    aggregatetype: Mapped[str] = mapped_column(String(255))
    aggregateid: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(255))
    payload: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    correlation_id: Mapped[str | None] = mapped_column(String(255))
    causation_id: Mapped[str | None] = mapped_column(String(255))
    aggregate_version: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    mode: Mapped[str | None] = mapped_column(String(20), default=None)
    """The order context's migration mode when the row was written (cutover stamps it; it
    travels as the ``mode`` header)."""
    created_at: Mapped[datetime] = _ts()


# ------------------------------------------------------------ inventory context
class InventoryStock(Base):
    __tablename__ = "inventory_stock"

    sku: Mapped[str] = mapped_column(String(64), primary_key=True)
    on_hand: Mapped[int] = mapped_column(Integer)


class Reservation(Base):
    """One reserve request: ``reserved``, ``released`` or ``rejected`` (short of stock)."""

    __tablename__ = "inventory_reservations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    order_id: Mapped[str] = mapped_column(String(36), index=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(String(200), default=None)
    correlation_id: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = _ts()
    released_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)

    lines: Mapped[list[ReservationLine]] = relationship(
        back_populates="reservation", order_by="ReservationLine.sku", cascade="all, delete-orphan"
    )


class ReservationLine(Base):
    __tablename__ = "inventory_reservation_lines"

    reservation_id: Mapped[str] = mapped_column(
        ForeignKey("inventory_reservations.id"), primary_key=True
    )
    sku: Mapped[str] = mapped_column(String(64), primary_key=True)
    qty: Mapped[int] = mapped_column(Integer)

    reservation: Mapped[Reservation] = relationship(back_populates="lines")


# -------------------------------------------------------------- payment context
class PaymentRecord(Base):
    """One charge: ``captured``, ``declined`` or ``refunded`` (after a capture)."""

    __tablename__ = "payments"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    order_id: Mapped[str] = mapped_column(String(36), index=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    payment_method: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20))
    requests: Mapped[int] = mapped_column(Integer, default=1)
    correlation_id: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = _ts()
    refunded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


# ------------------------------------------------------------- shipping context
class ShipmentRecord(Base):
    __tablename__ = "shipments"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    order_id: Mapped[str] = mapped_column(String(36), index=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    carrier: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    correlation_id: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = _ts()


# ---------------------------------------------------------------- email context
class NotificationRecord(Base):
    __tablename__ = "notifications"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    order_id: Mapped[str] = mapped_column(String(36), index=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    template: Mapped[str] = mapped_column(String(60))
    recipient: Mapped[str] = mapped_column(String(320))
    correlation_id: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = _ts()


CONTEXT_TABLES: dict[str, tuple[str, ...]] = {
    "order": ("customers", "products", "orders", "order_items", "outbox"),
    "inventory": ("inventory_stock", "inventory_reservations", "inventory_reservation_lines"),
    "payment": ("payments",),
    "shipping": ("shipments",),
    "email": ("notifications",),
}
