"""cutover's own tables (SQLAlchemy 2.0 typed declarative), in their own schema.

Two groups, so the state may be split across two databases:

* :data:`APP_TABLES` — what the application touches at request time: the per-context
  modes, the instance heartbeats, the verify results, the blocked sync calls and the
  idempotency keys. They live
  in the application's database (the plan's ``system.database.url_env``).
* :data:`STATE_TABLES` — what only cutover's commands touch: the phase, the transition
  journal, the lock, the append-only audit trail, the compare watermarks. They live in the
  database of ``system.state_url_env`` when it is set, else beside the application tables.

Every table is declared in the symbolic schema :data:`SCHEMA`; an engine maps it onto the
plan's ``system.state_schema`` (:func:`cutover.state.naming.schema_map`). SQLite has no
schemas: there the tables have the same names with no schema (tests, the embedded store).
The DDL itself is alembic's (``cutover/state/migrations``); these classes mirror it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    false,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

SCHEMA = "cutover"
"""The schema every table is declared in (mapped onto the configured one at execution)."""

JsonDoc = JSON().with_variant(JSONB(), "postgresql")

MODE_VALUES = ("sync", "dual", "naive-dual", "async", "events-only")


class StateBase(DeclarativeBase):
    """Declarative base of cutover's own tables, all in the state schema."""

    metadata = MetaData(schema=SCHEMA)


def _now_column() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


# -- the application database ---------------------------------------------------------------
class ContextModeRow(StateBase):
    """The mode each bounded context runs in; the application reads it (briefly cached)."""

    __tablename__ = "context_modes"
    __table_args__ = (
        CheckConstraint(
            "mode IN ('sync','dual','naive-dual','async','events-only')", name="ck_context_mode"
        ),
    )

    context: Mapped[str] = mapped_column(String(100), primary_key=True)
    mode: Mapped[str] = mapped_column(String(20), nullable=False)
    updated_at: Mapped[datetime] = _now_column()
    updated_by: Mapped[str] = mapped_column(String(200), nullable=False, server_default="system")


class InstanceHeartbeatRow(StateBase):
    """One row per application instance: the modes it last observed, and when."""

    __tablename__ = "instance_heartbeats"

    instance_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    host: Mapped[str] = mapped_column(String(255), nullable=False)
    pid: Mapped[int] = mapped_column(Integer, nullable=False)
    modes: Mapped[dict[str, Any]] = mapped_column(JsonDoc, nullable=False)
    observed_at: Mapped[datetime] = _now_column()


class VerifyResultRow(StateBase):
    """A sync call's would-be answer from a verify run (``async`` mode), per operation.

    ``inconclusive`` (set on the key's ``finish`` row) marks a run that got no answer: the
    comparisons leave that key out; a partial index finds those few rows.
    """

    __tablename__ = "verify_results"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    business_key: Mapped[str] = mapped_column(String(255), nullable=False, index=True)
    context: Mapped[str] = mapped_column(String(40), nullable=False)
    operation: Mapped[str] = mapped_column(String(40), nullable=False)
    result: Mapped[dict[str, Any]] = mapped_column(JsonDoc, nullable=False)
    correlation_id: Mapped[str] = mapped_column(String(255), nullable=False)
    recorded_at: Mapped[datetime] = _now_column()
    inconclusive: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default=false()
    )

    __table_args__ = (
        Index(
            "ix_verify_results_inconclusive", "business_key",
            postgresql_where=text("inconclusive"), sqlite_where=text("inconclusive"),
        ),
    )  # fmt: skip


class BlockedCallRow(StateBase):
    """A sync call attempted while its context was ``events-only`` (phase 5 wants none)."""

    __tablename__ = "blocked_calls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    context: Mapped[str] = mapped_column(String(40), nullable=False, index=True)
    operation: Mapped[str] = mapped_column(String(40), nullable=False)
    business_key: Mapped[str | None] = mapped_column(String(255))
    correlation_id: Mapped[str | None] = mapped_column(String(255))
    attempted_at: Mapped[datetime] = _now_column()


class IdempotencyKeyRow(StateBase):
    """One ``Idempotency-Key`` per scope: its request's fingerprint, who holds it (``token``,
    until ``locked_until``) and, once ``completed``, the stored response (``cutover.Idempotency``).
    """

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        CheckConstraint("status IN ('in-progress','completed')", name="ck_idempotency_status"),
    )

    scope: Mapped[str] = mapped_column(String(100), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64), nullable=False)
    token: Mapped[str] = mapped_column(String(32), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_headers: Mapped[list[Any] | None] = mapped_column(JsonDoc)
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    locked_until: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, index=True
    )


# -- the state database ---------------------------------------------------------------------
class PhaseRow(StateBase):
    """The single row holding the current phase."""

    __tablename__ = "phase_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    phase: Mapped[int] = mapped_column(Integer, nullable=False)
    plan_digest: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    updated_by: Mapped[str] = mapped_column(String(200), nullable=False)


class TransitionRow(StateBase):
    """The journal of the transition in progress; one row at most.

    It is written before the first action and deleted after the last; a row left behind
    means the transition crashed and ``cutover advance --resume`` continues it.
    """

    __tablename__ = "transition_in_progress"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    from_phase: Mapped[int] = mapped_column(Integer, nullable=False)
    to_phase: Mapped[int] = mapped_column(Integer, nullable=False)
    plan_json: Mapped[str] = mapped_column(Text, nullable=False)
    done_moves: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    stage: Mapped[str] = mapped_column(String(40), nullable=False)
    actor: Mapped[str] = mapped_column(String(200), nullable=False)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class LockRow(StateBase):
    """The lock row used where no advisory lock exists (SQLite)."""

    __tablename__ = "transition_lock"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    owner: Mapped[str] = mapped_column(String(200), nullable=False)
    acquired_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class AuditRow(StateBase):
    """Append-only audit trail (triggers refuse UPDATE and DELETE): every transition, gate
    evaluation, drill and revert."""

    __tablename__ = "audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    actor: Mapped[str] = mapped_column(String(200), nullable=False)
    action: Mapped[str] = mapped_column(String(40), nullable=False)
    from_phase: Mapped[int] = mapped_column(Integer, nullable=False)
    to_phase: Mapped[int] = mapped_column(Integer, nullable=False)
    contexts: Mapped[str] = mapped_column(String(1000), nullable=False, default="")
    verdict: Mapped[str | None] = mapped_column(String(20))
    evidence_path: Mapped[str | None] = mapped_column(String(1000))
    evidence_sha256: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(Text, nullable=False, default="{}")


class CompareWatermarkRow(StateBase):
    """Where ``cutover compare --watch`` left off, per named watch."""

    __tablename__ = "compare_watermarks"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    watermark: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    state: Mapped[dict[str, Any]] = mapped_column(JsonDoc, nullable=False)
    updated_at: Mapped[datetime] = _now_column()


APP_TABLES: tuple[str, ...] = (
    ContextModeRow.__tablename__,
    InstanceHeartbeatRow.__tablename__,
    VerifyResultRow.__tablename__,
    BlockedCallRow.__tablename__,
    IdempotencyKeyRow.__tablename__,
)
"""Tables in the application's database."""

STATE_TABLES: tuple[str, ...] = (
    PhaseRow.__tablename__,
    TransitionRow.__tablename__,
    LockRow.__tablename__,
    AuditRow.__tablename__,
    CompareWatermarkRow.__tablename__,
)
"""Tables in the state database (the application's unless ``system.state_url_env``)."""
