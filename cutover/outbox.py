"""The transactional outbox writer applications use: :func:`emit` adds one event row to the
caller's transaction, so the event commits (or rolls back) with the business rows.

::

    import cutover

    cutover.configure(outbox=cutover.Outbox.from_plan("cutover-plan.yaml"))  # once, at start-up

    with Session(engine) as session, session.begin():
        session.add(article)
        cutover.emit(session, "article", article.slug, "article.published", {"slug": article.slug})

One :func:`emit` for a SQLAlchemy ``Session`` / ``scoped_session`` / ``Connection`` and for a
psycopg (v3) ``Connection``: it dispatches on the type. The table and its column names come
from an :class:`Outbox` (the plan's ``outbox:`` block, or the default Debezium layout);
pass ``outbox=`` per call, or :func:`configure` a process-wide default once.

What each row carries: a new event id (returned), the aggregate type (the topic suffix),
the aggregate id (the Kafka key), the event type, the payload (a JSON object), the
correlation id (the argument, else the current request's: :mod:`cutover.flask`), the
causation id, the aggregate version (``None`` writes ``0``: *order not checked* — consumers
check gaps and order only for versions from 1 up) and the write-time migration mode (from
the :class:`Outbox`'s ``mode`` callable; without one the column stays NULL).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NewType

from cdc.debezium import OutboxOptions
from cdc.outbox_table import OutboxLayout, ddl_script
from cutover._drivers import write, written_roles
from cutover.correlation import current_correlation_id
from cutover.errors import InvalidEvent

if TYPE_CHECKING:
    from phases.plan import OutboxSpec

EventId = NewType("EventId", uuid.UUID)
"""The id of an emitted event: the outbox row's id and the Kafka ``id`` header."""

ModeSource = Callable[[], str | None]
"""Returns the migration mode to stamp on a row (``sync``, ``dual``, ``async``...), or None."""

AggregateId = str | int | uuid.UUID

# A JSON text holding \u0000 (an odd number of backslashes before it): jsonb refuses it.
_NUL = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")


@dataclass(frozen=True, slots=True)
class Outbox:
    """Where :func:`emit` writes: the table layout and, optionally, the mode source.

    ``mode`` is called once per row, in the request, and must not raise; its value goes to
    the mode column (and travels as the ``mode`` header). The mode switch that provides it
    comes in a later release; until then leave it None (the column stays NULL) or give a
    callable of your own.
    """

    layout: OutboxLayout = field(default_factory=OutboxLayout)
    mode: ModeSource | None = None

    @classmethod
    def from_spec(cls, spec: OutboxSpec, *, mode: ModeSource | None = None) -> Outbox:
        """The outbox a plan's ``outbox:`` block describes."""
        return cls(spec.layout(), mode)

    @classmethod
    def from_plan(
        cls, path: str | Path = "cutover-plan.yaml", *, mode: ModeSource | None = None
    ) -> Outbox:
        """The outbox of the plan file at ``path`` (raises ``phases.errors.PlanInvalid``)."""
        from phases.plan import load_plan

        return cls.from_spec(load_plan(path).outbox, mode=mode)

    def ddl(self) -> str:
        """The table's DDL script (what ``cutover outbox init --sql`` prints)."""
        return ddl_script(self.layout)

    def connector_options(self, topic_prefix: str = "outbox.event") -> OutboxOptions:
        """The Outbox Event Router options for this table (headers keep cutover's names)."""
        return self.layout.connector_options(topic_prefix)

    def emit(
        self,
        target: Any,
        aggregate_type: str,
        aggregate_id: AggregateId,
        event_type: str,
        payload: Mapping[str, Any],
        *,
        aggregate_version: int | None = None,
        correlation_id: str | uuid.UUID | None = None,
        causation_id: str | uuid.UUID | None = None,
    ) -> EventId:
        """Add one event row to ``target``'s current transaction; see :func:`emit`."""
        row = self.row(
            aggregate_type,
            aggregate_id,
            event_type,
            payload,
            aggregate_version=aggregate_version,
            correlation_id=correlation_id,
            causation_id=causation_id,
        )
        write(target, self.layout, row)
        return EventId(row["id"])

    def row(
        self,
        aggregate_type: str,
        aggregate_id: AggregateId,
        event_type: str,
        payload: Mapping[str, Any],
        *,
        aggregate_version: int | None = None,
        correlation_id: str | uuid.UUID | None = None,
        causation_id: str | uuid.UUID | None = None,
    ) -> dict[str, Any]:
        """The validated values by column role (the payload as JSON text); raises
        :class:`~cutover.errors.InvalidEvent` and touches no database."""
        correlation = correlation_id if correlation_id is not None else current_correlation_id()
        values: dict[str, Any] = {
            "id": uuid.uuid4(),
            "aggregate_type": _name("aggregate_type", aggregate_type),
            "aggregate_id": _aggregate_id(aggregate_id),
            "event_type": _name("event_type", event_type),
            "payload": _payload_json(payload),
            "correlation_id": _optional_id("correlation_id", correlation),
            "causation_id": _optional_id("causation_id", causation_id),
            "aggregate_version": _version(aggregate_version),
            "mode": _mode(self.mode),
        }
        return {role: values[role] for role in written_roles(self.layout)}


_default = Outbox()


def configure(*, outbox: Outbox) -> None:
    """Make ``outbox`` the process-wide default of :func:`emit` (call once, at start-up)."""
    global _default  # noqa: PLW0603 - the one documented module-level default
    _default = outbox


def default_outbox() -> Outbox:
    """The outbox :func:`emit` uses when given none (the Debezium layout until configured)."""
    return _default


def emit(
    target: Any,
    aggregate_type: str,
    aggregate_id: AggregateId,
    event_type: str,
    payload: Mapping[str, Any],
    *,
    aggregate_version: int | None = None,
    correlation_id: str | uuid.UUID | None = None,
    causation_id: str | uuid.UUID | None = None,
    outbox: Outbox | None = None,
) -> EventId:
    """Add one event to the outbox in ``target``'s transaction and return its id.

    ``target`` is a SQLAlchemy ``Session`` (or ``scoped_session``, e.g. Flask-SQLAlchemy's
    ``db.session``) or ``Connection``, or a psycopg ``Connection``, on PostgreSQL, inside a
    transaction the caller commits: nothing here commits, flushes other objects or
    retries. ``aggregate_version=None`` writes ``0``: order not checked.

    Raises, having written nothing: :class:`~cutover.errors.InvalidEvent` (an empty
    aggregate type, aggregate id or event type; a payload that is not a JSON object or
    not JSON-serialisable; a negative version), :class:`~cutover.errors.NotInTransaction`
    (autocommit, or no transaction begun), :class:`~cutover.errors.UnsupportedConnection`.
    Database errors of the INSERT itself (e.g. a duplicate aggregate version) are the
    driver's, raised as they come, and leave the caller's transaction failed.
    """
    return (outbox or _default).emit(
        target,
        aggregate_type,
        aggregate_id,
        event_type,
        payload,
        aggregate_version=aggregate_version,
        correlation_id=correlation_id,
        causation_id=causation_id,
    )


def _name(field_name: str, value: object) -> str:
    if not isinstance(value, str):
        raise InvalidEvent(field_name, f"must be a string, not {type(value).__name__}")
    if not value.strip():
        raise InvalidEvent(field_name, "is empty")
    return value


def _aggregate_id(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | uuid.UUID):
        raise InvalidEvent(
            "aggregate_id", f"must be a str, int or UUID, not {type(value).__name__}"
        )
    return _name("aggregate_id", str(value))


def _optional_id(field_name: str, value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str | uuid.UUID):
        raise InvalidEvent(field_name, f"must be a str or UUID, not {type(value).__name__}")
    return str(value) or None


def _mode(source: ModeSource | None) -> str | None:
    mode = source() if source is not None else None
    if mode is not None and not isinstance(mode, str):
        raise InvalidEvent("mode", f"from the mode source must be a str, not {type(mode).__name__}")
    return mode


def _version(value: object) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidEvent("aggregate_version", f"must be an int, not {type(value).__name__}")
    if value < 0:
        raise InvalidEvent("aggregate_version", "is negative (0 means: order not checked)")
    return value


def _payload_json(payload: object) -> str:
    if not isinstance(payload, Mapping):
        raise InvalidEvent(
            "payload", f"must be a JSON object (a mapping), not {type(payload).__name__}"
        )
    try:
        text = json.dumps(payload, allow_nan=False, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise InvalidEvent("payload", f"is not JSON-serialisable ({exc})") from None
    if "\\u0000" in text and _NUL.search(text):
        raise InvalidEvent("payload", "holds a NUL character (jsonb cannot store it)")
    return text
