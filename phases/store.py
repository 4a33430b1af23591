"""The migration state store: current phase, transition journal, lock and audit trail.

Postgres in production (a session advisory lock serialises transitions and dies with a
crashed session); SQLite as the embedded default (a lock row with a lease). The mode table
the legacy app reads is written through :class:`SqlModeStore`.
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, create_engine, delete, event, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cutover_common.modes import MODES_DDL, Mode
from phases.errors import TransitionLocked
from phases.schema import (
    POSTGRES_APPEND_ONLY,
    SQLITE_APPEND_ONLY,
    AuditRow,
    Base,
    ContextModeRow,
    LockRow,
    PhaseRow,
    TransitionRow,
)

ADVISORY_KEY = 0x6375746F  # "cuto"
LOCK_LEASE = timedelta(minutes=30)


def default_actor() -> str:
    """``user@host`` of the operator running the command."""
    user = os.environ.get("CUTOVER_ACTOR") or os.environ.get("USER") or "unknown"
    return f"{user}@{socket.gethostname()}"


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One audit row, as written and as read back by ``cutover history``."""

    action: str
    from_phase: int
    to_phase: int
    actor: str
    contexts: tuple[str, ...] = ()
    verdict: str | None = None
    evidence_path: str | None = None
    evidence_sha256: str | None = None
    detail: Mapping[str, Any] | None = None
    at: datetime | None = None
    id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at.isoformat() if self.at else None,
            "actor": self.actor,
            "action": self.action,
            "from": self.from_phase,
            "to": self.to_phase,
            "contexts": list(self.contexts),
            "verdict": self.verdict,
            "evidence_path": self.evidence_path,
            "evidence_sha256": self.evidence_sha256,
            "detail": dict(self.detail or {}),
        }


@dataclass(frozen=True, slots=True)
class Journal:
    """The transition in progress (or left behind by a crash)."""

    kind: str
    from_phase: int
    to_phase: int
    plan: Mapping[str, Any]
    done_moves: int
    stage: str
    actor: str
    started_at: datetime


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets thread-safe settings and a busy timeout."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _rec: Any) -> None:
            dbapi_conn.execute("PRAGMA journal_mode=WAL")

        return engine
    return create_engine(url, pool_pre_ping=True)


class StateStore:
    """Reads and writes the phase, the journal, the lock and the audit trail."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.is_postgres = engine.dialect.name == "postgresql"

    @classmethod
    def from_url(cls, url: str) -> StateStore:
        return cls(make_engine(url))

    def create_schema(self) -> None:
        """Create the tables (idempotent), the mode table from its shared DDL, audit triggers."""
        ensure_modes_table(self.engine)
        tables = [
            t for name, t in Base.metadata.tables.items() if name != ContextModeRow.__tablename__
        ]
        with self.engine.begin() as conn:
            if self.is_postgres:
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": ADVISORY_KEY + 1})
            Base.metadata.create_all(conn, tables=tables)
            for ddl in POSTGRES_APPEND_ONLY if self.is_postgres else SQLITE_APPEND_ONLY:
                conn.execute(text(ddl))

    # -- phase -----------------------------------------------------------------------------
    def phase(self) -> int:
        with Session(self.engine) as s:
            row = s.get(PhaseRow, 1)
            return row.phase if row else 0

    def _set_phase(self, s: Session, phase: int, actor: str, digest: str | None) -> None:
        row = s.get(PhaseRow, 1)
        if row is None:
            s.add(
                PhaseRow(id=1, phase=phase, plan_digest=digest, updated_at=_now(), updated_by=actor)
            )
        else:
            row.phase, row.updated_at, row.updated_by = phase, _now(), actor
            row.plan_digest = digest or row.plan_digest

    # -- audit -----------------------------------------------------------------------------
    def append_audit(self, entry: AuditEntry) -> int:
        with Session(self.engine) as s, s.begin():
            return self._add_audit(s, entry)

    def _add_audit(self, s: Session, e: AuditEntry) -> int:
        row = AuditRow(
            at=e.at or _now(),
            actor=e.actor,
            action=e.action,
            from_phase=e.from_phase,
            to_phase=e.to_phase,
            contexts=",".join(e.contexts),
            verdict=e.verdict,
            evidence_path=e.evidence_path,
            evidence_sha256=e.evidence_sha256,
            detail=json.dumps(dict(e.detail or {}), sort_keys=True, default=str),
        )
        s.add(row)
        s.flush()
        return row.id

    def history(self, limit: int = 50, *, action: str | None = None) -> list[AuditEntry]:
        """Audit rows, newest first."""
        query = select(AuditRow).order_by(AuditRow.id.desc()).limit(limit)
        if action:
            query = query.where(AuditRow.action == action)
        with Session(self.engine) as s:
            return [_entry(r) for r in s.scalars(query)]

    def commit_move(
        self, phase: int, entry: AuditEntry, *, done_moves: int, digest: str | None
    ) -> None:
        """Record a finished move: new phase, audit row, journal progress, in one transaction."""
        with Session(self.engine) as s, s.begin():
            self._set_phase(s, phase, entry.actor, digest)
            self._add_audit(s, entry)
            row = s.get(TransitionRow, 1)
            if row is not None:
                row.done_moves, row.stage, row.updated_at = done_moves, "moved", _now()

    # -- journal ---------------------------------------------------------------------------
    def journal(self) -> Journal | None:
        with Session(self.engine) as s:
            row = s.get(TransitionRow, 1)
            if row is None:
                return None
            return Journal(
                row.kind,
                row.from_phase,
                row.to_phase,
                json.loads(row.plan_json),
                row.done_moves,
                row.stage,
                row.actor,
                _aware(row.started_at),
            )

    def begin_journal(self, kind: str, plan: Mapping[str, Any], actor: str) -> None:
        now = _now()
        with Session(self.engine) as s, s.begin():
            s.add(
                TransitionRow(
                    id=1,
                    kind=kind,
                    from_phase=int(plan["from"]),
                    to_phase=int(plan["to"]),
                    plan_json=json.dumps(dict(plan), sort_keys=True),
                    done_moves=0,
                    stage="begun",
                    actor=actor,
                    started_at=now,
                    updated_at=now,
                )
            )

    def set_stage(self, stage: str) -> None:
        with Session(self.engine) as s, s.begin():
            row = s.get(TransitionRow, 1)
            if row is not None:
                row.stage, row.updated_at = stage, _now()

    def end_journal(self) -> None:
        with Session(self.engine) as s, s.begin():
            s.execute(delete(TransitionRow).where(TransitionRow.id == 1))

    # -- lock ------------------------------------------------------------------------------
    @contextmanager
    def transition_lock(self, actor: str) -> Iterator[None]:
        """Hold the one transition lock for the block, or raise :class:`TransitionLocked`."""
        if self.is_postgres:
            with self._advisory_lock(actor):
                yield
        else:
            with self._row_lock(actor):
                yield

    @contextmanager
    def _advisory_lock(self, actor: str) -> Iterator[None]:
        conn = self.engine.connect()
        try:
            got = conn.execute(
                text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_KEY}
            ).scalar()
            conn.commit()
            if not got:
                journal = self.journal()
                raise TransitionLocked(journal.actor if journal else None)
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
                conn.commit()
        finally:
            conn.close()

    @contextmanager
    def _row_lock(self, actor: str) -> Iterator[None]:
        owner = f"{actor}#{uuid.uuid4().hex[:8]}"
        self._acquire_row(owner)
        try:
            yield
        finally:
            with Session(self.engine) as s, s.begin():
                s.execute(
                    delete(LockRow).where(LockRow.name == "transition", LockRow.owner == owner)
                )

    def _acquire_row(self, owner: str) -> None:
        now = _now()
        for _ in range(2):
            try:
                with Session(self.engine) as s, s.begin():
                    s.add(
                        LockRow(
                            name="transition",
                            owner=owner,
                            acquired_at=now,
                            expires_at=now + LOCK_LEASE,
                        )
                    )
                return
            except IntegrityError:
                with Session(self.engine) as s, s.begin():
                    held = s.get(LockRow, "transition")
                    if held is not None and _aware(held.expires_at) > now:
                        raise TransitionLocked(held.owner.split("#")[0]) from None
                    s.execute(delete(LockRow).where(LockRow.name == "transition"))
        raise TransitionLocked(None)


def _entry(r: AuditRow) -> AuditEntry:
    return AuditEntry(
        action=r.action,
        from_phase=r.from_phase,
        to_phase=r.to_phase,
        actor=r.actor,
        contexts=tuple(c for c in r.contexts.split(",") if c),
        verdict=r.verdict,
        evidence_path=r.evidence_path,
        evidence_sha256=r.evidence_sha256,
        detail=json.loads(r.detail or "{}"),
        at=_aware(r.at),
        id=r.id,
    )


def ensure_modes_table(engine: Engine) -> None:
    """Create ``cutover_context_modes`` (the shared DDL on Postgres) when it is missing."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": ADVISORY_KEY + 1})
            conn.execute(text(MODES_DDL))
        else:
            Base.metadata.create_all(conn, tables=[ContextModeRow.__table__])  # type: ignore[list-item]


class SqlModeStore:
    """:class:`~phases.ports.ModeStore` over the ``cutover_context_modes`` table."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def get_modes(self) -> dict[str, Mode]:
        with Session(self.engine) as s:
            return {r.context: Mode(r.mode) for r in s.scalars(select(ContextModeRow))}

    def set_modes(self, modes: Mapping[str, Mode], *, actor: str) -> None:
        with Session(self.engine) as s, s.begin():
            for context, mode in modes.items():
                row = s.get(ContextModeRow, context)
                if row is None:
                    s.add(
                        ContextModeRow(
                            context=context, mode=mode.value, updated_at=_now(), updated_by=actor
                        )
                    )
                else:
                    row.mode, row.updated_at, row.updated_by = mode.value, _now(), actor
