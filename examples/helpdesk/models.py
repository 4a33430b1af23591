"""The helpdesk's tables (SQLAlchemy 2.0 typed style), in one database.

The helpdesk owns ``agents``, ``tickets``, ``ticket_events`` (each ticket's history) and the
outbox (``outbox``, cutover's default layout: ``cutover outbox init`` adopts it). The
notifier owns ``notifications_sent``, the search index ``search_documents``: the sync side
of each context's outcome (``plan.yaml``).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

JsonDoc = JSON().with_variant(JSONB(), "postgresql")


def now() -> datetime:
    """The current time, timezone-aware (UTC)."""
    return datetime.now(UTC)


def _ts() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), default=now, server_default=func.now())


class Base(DeclarativeBase):
    pass


class Agent(Base):
    """A support agent a ticket can be assigned to."""

    __tablename__ = "agents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str] = mapped_column(String(320), unique=True)


class Ticket(Base):
    """A support ticket: ``open`` → ``assigned`` → ``resolved``; ``version`` counts its writes."""

    __tablename__ = "tickets"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    requester: Mapped[str] = mapped_column(String(320))
    status: Mapped[str] = mapped_column(String(20), default="open")
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"), default=None)
    resolution: Mapped[str | None] = mapped_column(Text, default=None)
    version: Mapped[int] = mapped_column(Integer, default=1)
    opened_at: Mapped[datetime] = _ts()
    updated_at: Mapped[datetime] = _ts()


class TicketEvent(Base):
    """One line of a ticket's history (who did what, when)."""

    __tablename__ = "ticket_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"), default=None)
    at: Mapped[datetime] = _ts()


class OutboxRow(Base):
    """cutover's outbox, default layout (docs/app-sdk.md, "The table contract")."""

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
    created_at: Mapped[datetime] = _ts()


class NotificationSent(Base):
    """The notifier's record of each e-mail it sent (once per idempotency key)."""

    __tablename__ = "notifications_sent"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[str] = mapped_column(String(36), index=True)
    template: Mapped[str] = mapped_column(String(60))
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    correlation_id: Mapped[str | None] = mapped_column(String(255), default=None)
    sent_at: Mapped[datetime] = _ts()


class SearchDocument(Base):
    """The search index's document of a ticket (the newest version wins)."""

    __tablename__ = "search_documents"

    ticket_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))
    assignee: Mapped[str | None] = mapped_column(String(320), default=None)
    version: Mapped[int] = mapped_column(Integer)
    indexed_at: Mapped[datetime] = _ts()
