"""cutover's public API for applications (see ``docs/app-sdk.md``).

The transactional outbox:

* :func:`emit` — add an event row in the caller's transaction (SQLAlchemy or psycopg);
* :class:`Outbox` — the table layout (:meth:`Outbox.from_plan`) and the mode source;
  :func:`configure` sets the process-wide default;
* :func:`current_correlation_id` / :func:`correlation_scope` — the correlation id stamped on
  rows; :mod:`cutover.flask` sets it from each request's header;
* :mod:`cutover.errors` — what ``emit`` raises.

The migration mode switch and the verify runner come in a later release.
"""

from __future__ import annotations

from cdc.outbox_table import OutboxColumns, OutboxLayout
from cutover.correlation import correlation_scope, current_correlation_id
from cutover.errors import (
    InvalidEvent,
    NotInTransaction,
    OutboxConfigError,
    OutboxTableConflict,
    SdkError,
    UnsupportedConnection,
)
from cutover.outbox import EventId, ModeSource, Outbox, configure, default_outbox, emit

__all__ = [
    "EventId",
    "InvalidEvent",
    "ModeSource",
    "NotInTransaction",
    "Outbox",
    "OutboxColumns",
    "OutboxConfigError",
    "OutboxLayout",
    "OutboxTableConflict",
    "SdkError",
    "UnsupportedConnection",
    "configure",
    "correlation_scope",
    "current_correlation_id",
    "default_outbox",
    "emit",
]
