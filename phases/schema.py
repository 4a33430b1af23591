"""The state store's tables (SQLAlchemy 2.0 typed declarative): phase, journal, lock, audit.

The per-context mode table (``cutover_context_modes``) is the contract with legacy_app; its
DDL lives in :mod:`cutover_common.modes` and is mirrored by :class:`ContextModeRow`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, Integer, String, Text, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from cutover_common.modes import MODES_TABLE


class Base(DeclarativeBase):
    pass


class PhaseRow(Base):
    """The single row holding the current phase."""

    __tablename__ = "cutover_phase_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    phase: Mapped[int] = mapped_column(Integer, nullable=False)
    plan_digest: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    updated_by: Mapped[str] = mapped_column(String(200), nullable=False)


class ContextModeRow(Base):
    """Mirror of ``cutover_common.modes.MODES_DDL`` (created from that DDL on Postgres)."""

    __tablename__ = MODES_TABLE
    __table_args__ = (
        CheckConstraint(
            "mode IN ('sync','dual','naive-dual','async','events-only')", name="ck_cutover_mode"
        ),
    )

    context: Mapped[str] = mapped_column(String(100), primary_key=True)
    mode: Mapped[str] = mapped_column(String(20), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    updated_by: Mapped[str] = mapped_column(String(200), nullable=False, server_default="system")


class TransitionRow(Base):
    """The journal of the transition in progress (``transition_in_progress``); one row at most.

    It is written before the first action and deleted after the last; a row left behind
    means the transition crashed and ``cutover advance --resume`` continues it.
    """

    __tablename__ = "cutover_transition_in_progress"

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


class LockRow(Base):
    """The lock row used where no advisory lock exists (SQLite)."""

    __tablename__ = "cutover_lock"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    owner: Mapped[str] = mapped_column(String(200), nullable=False)
    acquired_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class AuditRow(Base):
    """Append-only audit trail: every transition, gate evaluation, drill and revert."""

    __tablename__ = "cutover_audit"

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


SQLITE_APPEND_ONLY = [
    """CREATE TRIGGER IF NOT EXISTS cutover_audit_no_update BEFORE UPDATE ON cutover_audit
       BEGIN SELECT RAISE(ABORT, 'cutover_audit is append-only'); END""",
    """CREATE TRIGGER IF NOT EXISTS cutover_audit_no_delete BEFORE DELETE ON cutover_audit
       BEGIN SELECT RAISE(ABORT, 'cutover_audit is append-only'); END""",
]

POSTGRES_APPEND_ONLY = [
    """CREATE OR REPLACE FUNCTION cutover_audit_append_only() RETURNS trigger AS $$
       BEGIN RAISE EXCEPTION 'cutover_audit is append-only'; END $$ LANGUAGE plpgsql""",
    """CREATE OR REPLACE TRIGGER cutover_audit_no_change BEFORE UPDATE OR DELETE ON cutover_audit
       FOR EACH ROW EXECUTE FUNCTION cutover_audit_append_only()""",
]
