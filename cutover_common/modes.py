"""Migration modes per bounded context.

The table that holds them (``context_modes``, cutover's own, created by ``cutover init``;
see :mod:`cutover.state.models`) is the contract between ``phases`` (which writes it when an
operator advances or rolls back) and the application (which reads it at request time,
briefly cached).
"""

from __future__ import annotations

from enum import StrEnum


class Mode(StrEnum):
    """How a bounded context runs (see DESIGN.md, "Migration modes")."""

    SYNC = "sync"
    DUAL = "dual"
    NAIVE_DUAL = "naive-dual"
    ASYNC = "async"
    EVENTS_ONLY = "events-only"
