"""The state store's tables: cutover's own (:mod:`cutover.state.models`), named here for the
phases package. Their DDL is alembic's (``cutover init``); nothing in phases creates them."""

from __future__ import annotations

from cutover.state.models import (
    AuditRow,
    ContextModeRow,
    LockRow,
    PhaseRow,
    StateBase,
    TransitionRow,
)

__all__ = ["AuditRow", "ContextModeRow", "LockRow", "PhaseRow", "StateBase", "TransitionRow"]
