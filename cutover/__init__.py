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

Idempotent command endpoints (``Idempotency-Key``):

* :class:`Idempotency` — the first request with a key does the work, repeats get its stored
  response, a different request with the key is refused; keys held in a
  :class:`SqlIdempotencyStore` (cutover's ``idempotency_keys`` table;
  :class:`MemoryIdempotencyStore` in tests; both an :class:`IdempotencyStore`);
  :func:`cutover.flask.idempotent` applies it to a Flask view;
* :func:`parse_json` / :func:`json_depth` — JSON bodies parsed only when nested at most
  ``max_depth`` levels (:func:`cutover.flask.limit_json` answers 400 to deeper ones).

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
    IdempotencyStoreError,
    InvalidEvent,
    InvalidIdempotencyOptions,
    InvalidVerify,
    JsonTooDeep,
    NotInTransaction,
    OutboxConfigError,
    OutboxTableConflict,
    SdkError,
    SyncCallBlocked,
    UnsupportedConnection,
)
from cutover.idempotency import (
    Decision,
    Idempotency,
    IdempotencyOptions,
    IdempotencyStore,
    MemoryIdempotencyStore,
    Mismatch,
    Proceed,
    Replay,
    StillRunning,
    StoredResponse,
    request_fingerprint,
)
from cutover.idempotency_sql import SqlIdempotencyStore
from cutover.json_limits import json_depth, parse_json
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
    "Decision",
    "EventId",
    "HeartbeatOptions",
    "Idempotency",
    "IdempotencyOptions",
    "IdempotencyStore",
    "IdempotencyStoreError",
    "InstanceReport",
    "InvalidEvent",
    "InvalidIdempotencyOptions",
    "InvalidVerify",
    "JsonTooDeep",
    "Ledger",
    "MemoryHeartbeats",
    "MemoryIdempotencyStore",
    "MemoryLedger",
    "Migration",
    "Mismatch",
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
    "Proceed",
    "RecordedRequest",
    "Replay",
    "SdkError",
    "SqlHeartbeats",
    "SqlIdempotencyStore",
    "SqlLedger",
    "SqlModeTable",
    "StateUpgradeFailed",
    "StaticModes",
    "StillRunning",
    "StoredResponse",
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
    "json_depth",
    "parse_json",
    "request_fingerprint",
]
