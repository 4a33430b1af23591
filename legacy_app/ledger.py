"""The order service's verify runs and blocked sync calls, through cutover's runner.

One ``cutover.Migration`` per context (:class:`Migrations`) over the service's mode source
and a ``cutover.Ledger``: ``cutover.SqlLedger`` in the service (cutover's
``verify_results`` and ``blocked_calls`` tables, read back by
:func:`legacy_app.outcomes.iter_verify_outcomes` and the phase-5 gate),
``cutover.MemoryLedger`` in unit tests.
"""

from __future__ import annotations

import threading

import cutover
from legacy_app.modes import ModeSource


class Migrations:
    """A ``cutover.Migration`` per context, made on first use (thread-safe)."""

    def __init__(self, modes: ModeSource, ledger: cutover.Ledger) -> None:
        self.modes = modes
        self.ledger = ledger
        self._lock = threading.Lock()
        self._by_context: dict[str, cutover.Migration] = {}

    def __call__(self, context: str) -> cutover.Migration:
        migration = self._by_context.get(context)
        if migration is None:
            with self._lock:
                migration = self._by_context.setdefault(
                    context, cutover.Migration(context, self.modes, self.ledger)
                )
        return migration
