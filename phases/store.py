"""The migration state store: current phase, transition journal, lock and audit trail.

Postgres in production (a session advisory lock serialises transitions and dies with a
crashed session); SQLite as the embedded default (a lock row with a lease). The mode table
the application reads is written through :class:`SqlModeStore`.

The tables are cutover's own (:mod:`cutover.state.models`, in the plan's state schema) and
only ``cutover init`` (:meth:`StateStore.initialise`) creates them: every read and write
here on a database without them raises :class:`~cutover.state.errors.StateNotInitialised`
and creates nothing.
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
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from cutover.state import init as state_init
from cutover.state.errors import StateNotInitialised
from cutover.state.naming import ALL_GROUPS, DEFAULT_SCHEMA, Group, bind, effective_schema
from cutover_common.modes import Mode
from phases.errors import TransitionLocked
from phases.schema import AuditRow, ContextModeRow, LockRow, PhaseRow, TransitionRow

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


_MISSING_TABLE = ("42P01", "3F000")  # Postgres: undefined table, invalid schema name


@contextmanager
def translate_missing(database: str, engine: Engine, schema: str) -> Iterator[None]:
    """Turn "no such table" from the database into :class:`StateNotInitialised` (the one
    place that maps it: Postgres' SQLSTATE, SQLite's message)."""
    try:
        yield
    except DBAPIError as exc:
        code = getattr(exc.orig, "sqlstate", None)
        if code in _MISSING_TABLE or "no such table" in str(exc.orig):
            raise StateNotInitialised(
                database, effective_schema(engine.dialect.name, schema)
            ) from None
        raise


class StateStore:
    """Reads and writes the phase, the journal, the lock and the audit trail.

    ``schema`` is the plan's ``system.state_schema``; ``groups`` the tables this database
    holds (``state`` alone when the plan's ``state_url_env`` puts them apart from the
    application's, else both) — what :meth:`initialise` creates and
    :meth:`require_initialised` looks for.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        schema: str = DEFAULT_SCHEMA,
        groups: tuple[Group, ...] = ALL_GROUPS,
    ) -> None:
        self.engine = bind(engine, schema)
        self.schema = schema
        self.groups = groups
        self.is_postgres = engine.dialect.name == "postgresql"

    @classmethod
    def from_url(
        cls, url: str, *, schema: str = DEFAULT_SCHEMA, groups: tuple[Group, ...] = ALL_GROUPS
    ) -> StateStore:
        return cls(make_engine(url), schema=schema, groups=groups)

    def initialise(self) -> state_init.InitResult:
        """``cutover init`` on this database: create or upgrade its tables (idempotent)."""
        return state_init.upgrade(self.engine, schema=self.schema, groups=self.groups)

    def require_initialised(self) -> None:
        """Raise :class:`StateNotInitialised` unless :meth:`initialise` ran (at this
        version); reads the catalogue only."""
        state_init.require_initialised(self.engine, schema=self.schema, groups=self.groups)

    @contextmanager
    def _session(self) -> Iterator[Session]:
        with translate_missing("state", self.engine, self.schema), Session(self.engine) as s:
            yield s

    @contextmanager
    def _transaction(self) -> Iterator[Session]:
        with self._session() as s, s.begin():
            yield s

    # -- phase -----------------------------------------------------------------------------
    def phase(self) -> int:
        with self._session() as s:
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
        with self._transaction() as s:
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
        with self._session() as s:
            return [_entry(r) for r in s.scalars(query)]

    def commit_move(
        self, phase: int, entry: AuditEntry, *, done_moves: int, digest: str | None
    ) -> None:
        """Record a finished move: new phase, audit row, journal progress, in one transaction."""
        with self._transaction() as s:
            self._set_phase(s, phase, entry.actor, digest)
            self._add_audit(s, entry)
            row = s.get(TransitionRow, 1)
            if row is not None:
                row.done_moves, row.stage, row.updated_at = done_moves, "moved", _now()

    # -- journal ---------------------------------------------------------------------------
    def journal(self) -> Journal | None:
        with self._session() as s:
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
        with self._transaction() as s:
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
        with self._transaction() as s:
            row = s.get(TransitionRow, 1)
            if row is not None:
                row.stage, row.updated_at = stage, _now()

    def end_journal(self) -> None:
        with self._transaction() as s:
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
            with self._transaction() as s:
                s.execute(
                    delete(LockRow).where(LockRow.name == "transition", LockRow.owner == owner)
                )

    def _acquire_row(self, owner: str) -> None:
        now = _now()
        for _ in range(2):
            try:
                with self._transaction() as s:
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
                with self._transaction() as s:
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


class SqlModeStore:
    """:class:`~phases.ports.ModeStore` over cutover's ``context_modes`` table (in the
    application's database, schema ``schema``)."""

    def __init__(self, engine: Engine, *, schema: str = DEFAULT_SCHEMA) -> None:
        self.engine = bind(engine, schema)
        self.schema = schema

    @contextmanager
    def _session(self) -> Iterator[Session]:
        with translate_missing("application", self.engine, self.schema), Session(self.engine) as s:
            yield s

    def get_modes(self) -> dict[str, Mode]:
        with self._session() as s:
            return {r.context: Mode(r.mode) for r in s.scalars(select(ContextModeRow))}

    def entered_at(self) -> dict[str, datetime]:
        with self._session() as s:
            return {r.context: _aware(r.updated_at) for r in s.scalars(select(ContextModeRow))}

    def set_modes(self, modes: Mapping[str, Mode], *, actor: str) -> None:
        with self._session() as s, s.begin():
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
