"""The mode of each context, as the order service sees it.

The service reads cutover's mode table through the SDK: :func:`mode_switch` builds a
``cutover.ModeSwitch`` (cached ``ttl`` seconds, never failing a request, reporting this
instance's modes in a heartbeat row). A context without a row runs in ``sync``. Flipping a
mode needs no restart. :class:`StaticModes` is the in-memory fake of unit tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from sqlalchemy import Engine

import cutover
from cutover import Mode

CONTEXTS: tuple[str, ...] = ("order", "inventory", "payment", "shipping", "email")
"""The sample's bounded contexts (its plan names the same)."""


class ModeSource(Protocol):
    """Port: the current mode of a bounded context (a ``cutover.ModeSwitch`` is one)."""

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
        for context in CONTEXTS:
            self.set(context, mode)


def mode_switch(engine: Engine, *, ttl: float = 1.0) -> cutover.ModeSwitch:
    """cutover's mode switch over the service's database, its heartbeat thread started."""
    return cutover.ModeSwitch.from_engine(engine, ttl=ttl).start()
