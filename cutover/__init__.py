"""cutover's public API for applications (see ``docs/app-sdk.md``).

The transactional outbox:

* :func:`emit` — add an event row in the caller's transaction (SQLAlchemy or psycopg);
* :class:`Outbox` — the table layout (:meth:`Outbox.from_plan`) and the mode source;
  :func:`configure` sets the process-wide default;
* :func:`current_correlation_id` / :func:`correlation_scope` — the correlation id stamped on
  rows; :mod:`cutover.flask` sets it from each request's header;
* :mod:`cutover.errors` — what ``emit`` raises.

The migration mode switch and the verify runs:

* :class:`ModeSwitch` — each context's mode from cutover's table, cached, never failing a
  request, reporting the instance's modes in a heartbeat row;
* :class:`Migration` — per context, runs the sync call and the event path as the mode says,
  verify runs (:class:`Verify`: a dry run or a :class:`RecordedRequest`) recorded in a
  :class:`SqlLedger` (:class:`MemoryLedger` in tests; both are a :class:`Ledger`),
  inconclusive on a timeout or an error.

cutover's own tables in the application's database:

* :func:`init_state` — what ``cutover init`` does, from the application's bootstrap.

The public modules are :data:`PUBLIC_MODULES`: this package's names (``__all__``),
:mod:`cutover.contracts` (event contracts as msgspec structs),
:mod:`cutover.errors`, :mod:`cutover.flask`, :mod:`cutover.shadow` (the shadow handler
API) and :mod:`cutover.shadow_testing` (its in-memory harness). Every other ``cutover.*``
module is internal and may change without notice; an application (and the bundled samples)
imports nothing else of cutover.
"""

from __future__ import annotations

from cdc.outbox_table import OutboxColumns, OutboxLayout
from cutover.correlation import correlation_scope, current_correlation_id
from cutover.errors import (
    InvalidEvent,
    InvalidVerify,
    NotInTransaction,
    OutboxConfigError,
    OutboxTableConflict,
    SdkError,
    SyncCallBlocked,
    UnsupportedConnection,
)
from cutover.modes import (
    HeartbeatOptions,
    InstanceReport,
    MemoryHeartbeats,
    ModeSwitch,
    StaticModes,
)
from cutover.outbox import EventId, ModeSource, Outbox, configure, default_outbox, emit
from cutover.runner import Migration, Outcome, Verify
from cutover.state.errors import StateUpgradeFailed
from cutover.state_sql import SqlHeartbeats, SqlLedger, SqlModeTable, init_state
from cutover.verify import BlockedCall, Ledger, MemoryLedger, RecordedRequest, VerifyRecord
from cutover_common.modes import Mode

PUBLIC_MODULES: tuple[str, ...] = (
    "cutover",
    "cutover.contracts",
    "cutover.errors",
    "cutover.flask",
    "cutover.shadow",
    "cutover.shadow_testing",
)
"""The modules an application may import: this package and the documented modules."""

__all__ = [
    "PUBLIC_MODULES",
    "BlockedCall",
    "EventId",
    "HeartbeatOptions",
    "InstanceReport",
    "InvalidEvent",
    "InvalidVerify",
    "Ledger",
    "MemoryHeartbeats",
    "MemoryLedger",
    "Migration",
    "Mode",
    "ModeSource",
    "ModeSwitch",
    "NotInTransaction",
    "Outbox",
    "OutboxColumns",
    "OutboxConfigError",
    "OutboxLayout",
    "OutboxTableConflict",
    "Outcome",
    "RecordedRequest",
    "SdkError",
    "SqlHeartbeats",
    "SqlLedger",
    "SqlModeTable",
    "StateUpgradeFailed",
    "StaticModes",
    "SyncCallBlocked",
    "UnsupportedConnection",
    "Verify",
    "VerifyRecord",
    "configure",
    "correlation_scope",
    "current_correlation_id",
    "default_outbox",
    "emit",
    "init_state",
]
