"""Reading the migration mode of each context at request time, briefly cached.

``phases`` writes cutover's ``context_modes``; the order service reads it through
a :class:`ModeSource`. A context without a row (or a database without the
table) runs in ``sync``. Flipping a mode needs no restart: the cache lives
``ttl`` seconds (1 s by default).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Protocol

import structlog
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from cutover.state.naming import effective_schema, qualified
from cutover_common.modes import Mode

log = structlog.get_logger(__name__)


class ModeSource(Protocol):
    """Port: the current mode of a bounded context."""

    def mode(self, context: str) -> Mode: ...


class StaticModes:
    """In-memory fake: modes set by the test, ``sync`` for the rest."""

    def __init__(self, modes: Mapping[str, Mode | str] | None = None) -> None:
        self._modes = {k: Mode(v) for k, v in (modes or {}).items()}

    def mode(self, context: str) -> Mode:
        return self._modes.get(context, Mode.SYNC)

    def set(self, context: str, mode: Mode | str) -> None:
        self._modes[context] = Mode(mode)

    def set_all(self, mode: Mode | str) -> None:
        for context in ("order", "inventory", "payment", "shipping", "email"):
            self.set(context, mode)


class TableModes:
    """Reads cutover's ``context_modes``; all contexts in one query, cached for ``ttl`` seconds."""

    def __init__(
        self, engine: Engine, *, ttl: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._engine = engine
        self._select = text(f"SELECT context, mode FROM {modes_table(engine)}")
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: dict[str, Mode] = {}
        self._loaded_at: float | None = None

    def mode(self, context: str) -> Mode:
        with self._lock:
            now = self._clock()
            if self._loaded_at is None or now - self._loaded_at >= self._ttl:
                self._cache = self._load()
                self._loaded_at = now
            return self._cache.get(context, Mode.SYNC)

    def _load(self) -> dict[str, Mode]:
        try:
            with self._engine.connect() as conn:
                rows = conn.execute(self._select).all()
        except SQLAlchemyError as exc:
            log.warning("modes_unreadable", error=type(exc).__name__)
            return dict(self._cache)
        return {str(ctx): Mode(str(mode)) for ctx, mode in rows}


def modes_table(engine: Engine) -> str:
    """cutover's mode table as raw SQL names it on ``engine`` (default state schema)."""
    return qualified("context_modes", effective_schema(engine.dialect.name))


def write_mode(engine: Engine, context: str, mode: Mode | str, *, by: str = "legacy_app") -> None:
    """Set a context's mode (tests and rehearsals; ``phases`` owns the real transitions)."""
    table = modes_table(engine)
    with engine.begin() as conn:
        updated = conn.execute(
            text(
                f"UPDATE {table} SET mode = :mode, updated_by = :by, "
                "updated_at = CURRENT_TIMESTAMP WHERE context = :ctx"
            ),
            {"mode": str(Mode(mode)), "by": by, "ctx": context},
        )
        if updated.rowcount == 0:
            conn.execute(
                text(f"INSERT INTO {table} (context, mode, updated_by) VALUES (:ctx, :mode, :by)"),
                {"mode": str(Mode(mode)), "by": by, "ctx": context},
            )
