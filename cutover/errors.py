"""Errors of the public ``cutover`` package (the SDK applications import).

Each keeps its inputs as attributes and never holds a secret (a connection string,
a payload's values).
"""

from __future__ import annotations

from collections.abc import Sequence

from cutover_common.errors import CutoverError
from cutover_common.exit_codes import ExitCode


class SdkError(CutoverError):
    """Base of the errors raised by the ``cutover`` package."""


class InvalidEvent(SdkError):
    """Raised by ``emit`` before anything is written: an empty aggregate type, aggregate id or
    event type, a payload that is not a JSON object, a negative aggregate version.

    ``field`` names the argument at fault; the payload itself is never in the message.
    """

    exit_code = ExitCode.INVALID_INPUT

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"cannot emit: {field} {reason}")


class NotInTransaction(SdkError):
    """Raised by ``emit`` when the session or connection is not inside a transaction (a
    psycopg connection in autocommit or idle, a SQLAlchemy session that has begun nothing):
    the outbox row would not commit or roll back with the business rows. Nothing is written.
    """

    exit_code = ExitCode.INVALID_INPUT

    def __init__(self, target: str, state: str) -> None:
        self.target = target
        self.state = state
        super().__init__(
            f"cannot emit outside a transaction: the {target} is {state}",
            hint="emit inside the transaction that writes the business rows "
            "(session.begin() / conn.transaction()) and commit it yourself",
        )


class UnsupportedConnection(SdkError):
    """Raised by ``emit`` when given neither a SQLAlchemy ``Session``/``Connection`` nor a
    psycopg (v3) ``Connection``, or one to a database other than PostgreSQL."""

    exit_code = ExitCode.UNSUPPORTED

    def __init__(self, kind: str) -> None:
        self.kind = kind
        super().__init__(
            f"cannot emit through {kind}",
            hint="pass a SQLAlchemy Session or Connection, or a psycopg Connection, on PostgreSQL",
        )


class OutboxConfigError(SdkError):
    """Raised when the outbox cannot be configured: no plan file, an invalid ``outbox:`` block,
    or the database's environment variable is not set."""

    exit_code = ExitCode.INVALID_INPUT


class OutboxTableConflict(SdkError):
    """Raised by ``init_outbox`` when a table of that name exists but does not match the
    ``outbox:`` block; ``problems`` holds one line per conflict. Nothing is altered."""

    exit_code = ExitCode.INVALID_INPUT

    def __init__(self, table: str, problems: Sequence[str]) -> None:
        self.table = table
        self.problems = list(problems)
        super().__init__(
            f"outbox table {table} does not match the plan's outbox block: "
            + "; ".join(self.problems),
            hint="name the table's own columns in the outbox block (a table is never altered)",
        )


class OutboxDatabaseError(SdkError):
    """Raised when the outbox database cannot be reached or refuses the DDL (the message
    carries the driver's error class and text, never the connection string)."""

    exit_code = ExitCode.UNREACHABLE

    def __init__(self, reason: str, *, unreachable: bool = True) -> None:
        self.reason = reason
        if not unreachable:
            self.exit_code = ExitCode.ERROR
        super().__init__(reason)


class SyncCallBlocked(SdkError):
    """Raised by ``Migration.call_sync`` when the context is ``events-only``: the sync call
    was not executed, and the attempt was recorded as a blocked call (phase 5 wants none)."""

    exit_code = ExitCode.CONFLICT

    def __init__(self, context: str, operation: str) -> None:
        self.context = context
        self.operation = operation
        super().__init__(
            f"sync call {context}.{operation} blocked: the context runs events-only",
            hint="remove the sync call; the event path performs this effect now",
        )


class InvalidVerify(SdkError):
    """Raised when a ``Verify`` is built with neither or both of ``dry_run`` and ``request``,
    or a ``Migration`` with a non-positive verify timeout."""

    exit_code = ExitCode.INVALID_INPUT


class PurgeRefused(SdkError):
    """Raised by ``purge_outbox`` when it cannot show the old rows captured (no slot in this
    database, a slot inactive or behind the required position, no such table); nothing is
    deleted. ``exit_code`` says which (not found, unhealthy)."""

    def __init__(self, reason: str, *, exit_code: int, hint: str | None = None) -> None:
        self.reason = reason
        self.exit_code = exit_code
        super().__init__(reason, hint=hint)


class JsonTooDeep(SdkError):
    """Raised by ``cutover.parse_json`` (and answered 400 by ``cutover.flask``) when a JSON body
    nests arrays or objects deeper than ``max_depth`` levels; nothing was parsed."""

    exit_code = ExitCode.INVALID_INPUT

    def __init__(self, max_depth: int) -> None:
        self.max_depth = max_depth
        super().__init__(f"JSON body nested deeper than {max_depth} levels")


class InvalidIdempotencyOptions(SdkError):
    """Raised when ``IdempotencyOptions`` get a non-positive duration or poll interval, or
    a lease shorter than the wait (a waiter would take over a request still running); and by
    an ``idempotent`` view of an app without ``cutover.flask.init_idempotency``."""

    exit_code = ExitCode.INVALID_INPUT


class IdempotencyStoreError(SdkError):
    """Raised by the idempotency store when its database fails (the driver's error class and
    first line, never the connection string); ``cutover.flask`` answers 503."""

    exit_code = ExitCode.UNREACHABLE

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"idempotency store unavailable: {reason}")
