"""The shadow handler API: what a team writes to derive its outcomes from its events.

A team declares one :class:`ShadowApp` and registers a handler per event type::

    from cutover.shadow import Event, Handle, ShadowApp

    app = ShadowApp("favorites", contracts="contracts/")

    @app.handler("article.favorited")
    def favorited(event: Event, tx: Handle) -> None:
        tx.execute(
            "INSERT INTO favorites_read (article_id, n) VALUES (:id, 1) "
            "ON CONFLICT (article_id) DO UPDATE SET n = favorites_read.n + 1",
            {"id": event.payload["article_id"]},
        )

``cutover shadow run --app package.module:app`` runs it (one consumer group per app, plus
one per advanced consumer); :class:`cutover.shadow_testing.ShadowHarness` runs it in
memory, without Kafka or PostgreSQL. See ``docs/shadow-sdk.md``.

What the runtime guarantees to a handler: at-least-once delivery, in order per key; the
handler's writes and the event's idempotency claim commit in one transaction, so a
redelivered event that was applied is skipped (its writes happen once); a handler that
raises is retried, then dead-lettered with its reason; a poison event never blocks its
partition. A handler may run more than once for one event before that commit (a retry,
a crash): its writes roll back each time, and external calls go through
:meth:`Handle.effect`, which records them in ``dual`` mode and performs them (with an
idempotency key) in ``async`` and ``events-only``, per event, from the mode the
application stamped on it.

Advanced: a consumer that needs its own batch-level state or bulk writer (the sample's
order flow) registers a factory with :meth:`ShadowApp.consumer` returning a
:class:`Consumer` (a :class:`Processor` and its store). What such a plug-in builds on is
public here too: the runtime's ports (:class:`Processor`, :class:`Buffer`,
:class:`ProcessedRow`, :class:`ShadowStore`, :class:`StoreTx`), the decoded record
(:class:`InboundEvent`), the errors the runtime acts on (:class:`PoisonMessageError`:
dead-lettered; :class:`TransientError` / :class:`CircuitOpenError`: retried, then the
partition pauses; :class:`StaleReadError`; the store's :class:`AlreadyProcessedError`,
:class:`StoreWriteError`, :class:`StoreUnavailableError` and :func:`translate_errors`), the
circuit breaker, the store's schema name (:data:`DEFAULT_SCHEMA`, :func:`checked_schema`) and
``@record`` (a cheap slotted value class for hot-path values).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

from cutover.errors import SdkError
from cutover_common.records import record
from shadow.breaker import CircuitBreaker
from shadow.errors import (
    CircuitOpenError,
    EffectRejectedError,
    PoisonMessageError,
    ShadowConfigError,
    ShadowError,
    TransientError,
)
from shadow.messages import Headers, InboundEvent, event_time
from shadow.pg import DEFAULT_SCHEMA, checked_schema, translate_errors
from shadow.plugin import Buffer, ProcessedRow, Processor, StaleReadError
from shadow.store import (
    AlreadyProcessedError,
    ShadowStore,
    StoreTx,
    StoreUnavailableError,
    StoreWriteError,
)

T = TypeVar("T")
HandlerFn = Callable[["Event", "Handle"], None]
_NAME = re.compile(r"^[a-z][a-z0-9_.-]{0,62}$")


class ShadowAppError(SdkError):
    """Raised when a shadow app is declared wrongly (a bad name, a type handled twice, a
    bad timeout); the message names what is wrong."""

    def __init__(self, app: str, reason: str) -> None:
        super().__init__(f"shadow app {app!r}: {reason}")
        self.app = app
        self.reason = reason


class EffectRejected(SdkError):
    """Raise it from an effect's ``perform`` when the service answered "no" for good (a 4xx):
    the handler gets it back from :meth:`Handle.effect` to decide, instead of a retry."""

    def __init__(self, effect: str, reason: str) -> None:
        super().__init__(f"effect {effect!r} rejected: {reason}")
        self.effect = effect
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Event:
    """One decoded event, as a handler sees it."""

    id: str
    type: str
    key: str
    """The aggregate id (the Kafka key)."""
    payload: Mapping[str, Any]
    """The payload as JSON, validated against the event's contract when the app has contracts."""
    data: Any = None
    """The payload converted to the handler's ``payload`` type (msgspec Struct, dataclass,
    pydantic model), or ``None`` when the handler declared none."""
    mode: str = ""
    """The migration mode stamped by the application when it wrote the event
    (``dual``, ``async``, ``events-only``; empty when it stamped none)."""
    correlation_id: str = ""
    causation_id: str = ""
    sequence: int | None = None
    timestamp: datetime | None = None
    topic: str = ""


class Handle(Protocol):
    """The handler's view of the batch's transaction on the shadow store (one per event).

    Parameters are named (``:name``) in every statement, on PostgreSQL and in the harness.
    """

    event: Event

    @property
    def options(self) -> Mapping[str, str]:
        """The worker's options: ``--option key=value``, ``CUTOVER_SHADOW_OPTION_<KEY>`` and
        the plan context's ``shadow: {options: ...}`` (e.g. the URL an effect calls)."""

    @property
    def performs_effects(self) -> bool:
        """True when this event's effects are performed (``async``, ``events-only``),
        False when they are only recorded (``dual``)."""

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> int:
        """Run one statement now, in the batch's transaction, inside this event's savepoint
        (rolled back if the handler fails); returns the rows affected."""

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Rows of a query, in the batch's transaction (sees earlier events' ``execute``)."""

    def write(self, sql: str, params: Mapping[str, Any]) -> None:
        """The batch form: queue a statement; the queue runs once per batch, each statement
        text as one ``executemany`` in order, in the same transaction as the claims. Faster
        by far than :meth:`execute`; not visible to :meth:`query` before the commit."""

    def effect(
        self,
        name: str,
        perform: Callable[[str], T],
        *,
        intended: T,
        request: Mapping[str, Any] | None = None,
    ) -> T:
        """An external effect. ``dual``: record ``request`` and ``intended`` and return
        ``intended``, calling nothing. ``async``/``events-only``: call ``perform(key)`` with
        an idempotency key (``<event id>:<name>``) behind a circuit breaker named ``name``,
        record the answer and return it. A failing call is retried and then pauses the
        partition (it is not the event's fault); :class:`EffectRejected` comes back to the
        handler. An effect performed once is not performed again for the same event by
        this worker, even if the batch is redone."""

    def emit(
        self,
        event_type: str,
        payload: Mapping[str, Any],
        *,
        aggregate_type: str,
        aggregate_id: str,
    ) -> str:
        """Write a follow-up event into the shadow store's outbox (same transaction; the
        shadow outbox's connector publishes it); carries this event's mode and correlation
        id, and its id as causation id. Returns the new event's id."""


@dataclass(frozen=True, slots=True)
class HandlerSpec:
    """One registered handler."""

    event_type: str
    fn: HandlerFn
    payload: type[Any] | None = None
    timeout: float | None = None


@dataclass(frozen=True, slots=True)
class WorkerContext:
    """What a consumer factory gets from ``cutover shadow run``."""

    dsn: str
    """libpq DSN of the shadow store (a secret: never log it)."""
    schema: str
    default_mode: str
    """The mode of events that carry none (``--mode``; ``dual`` by default)."""
    options: Mapping[str, str] = field(default_factory=dict)
    """``--option key=value`` pairs and ``CUTOVER_SHADOW_OPTION_<KEY>`` variables."""


@dataclass(frozen=True, slots=True)
class Consumer:
    """An advanced consumer: a :class:`shadow.plugin.Processor` and its store(s)."""

    processor: Any
    store: Any
    writer: Any = None
    """A second store on its own connection for write-behind (``None``: serial)."""


ConsumerFactory = Callable[[WorkerContext], Consumer]


@dataclass(frozen=True, slots=True)
class ConsumerSpec:
    """One advanced consumer registered with :meth:`ShadowApp.consumer`."""

    name: str
    factory: ConsumerFactory
    topics: tuple[str, ...] = ()
    group_suffix: str | None = None
    """The consumer group is ``<group>.<group_suffix>`` (``<group>`` alone when ``""``);
    ``None``: ``<group>.<name>``."""

    def group(self, base: str) -> str:
        suffix = self.name if self.group_suffix is None else self.group_suffix
        return f"{base}.{suffix}" if suffix else base


class ShadowApp:
    """A team's shadow application: handlers by event type, its tables, its contracts.

    ``name`` is the handlers' consumer name (``--consumer``) and keys their idempotency
    claims; they run in the base consumer group (``cutover.shadow``, or ``--group`` / the
    plan context's ``consumer_group``); ``contracts`` a contracts directory (validated on
    each event; unknown types are dead-lettered), ``topics`` the topics to read when neither
    ``--topic`` nor the plan names any; ``tables`` DDL run (idempotently) when a worker starts.
    """

    def __init__(
        self,
        name: str,
        *,
        contracts: str | Path | None = None,
        topics: Sequence[str] = (),
        tables: Sequence[str] = (),
        default_timeout: float | None = 30.0,
    ) -> None:
        if not _NAME.match(name):
            raise ShadowAppError(name, "a name is lower-case letters, digits, '_', '.', '-'")
        self.name = name
        self.contracts = Path(contracts) if contracts is not None else None
        self.topics = tuple(topics)
        self.tables: list[str] = list(tables)
        self.default_timeout = default_timeout
        self.handlers: dict[str, HandlerSpec] = {}
        self.consumers: dict[str, ConsumerSpec] = {}

    def handler(
        self,
        event_type: str,
        *,
        payload: type[Any] | None = None,
        timeout: float | None = None,
    ) -> Callable[[HandlerFn], HandlerFn]:
        """Register the decorated function as the handler of ``event_type``.

        ``payload``: a type the payload is converted to (``event.data``); a payload that
        does not convert is dead-lettered (``schema_invalid``). ``timeout``: seconds after
        which a run counts as failed (retried, then dead-lettered); the app's default else.
        """

        def register(fn: HandlerFn) -> HandlerFn:
            if event_type in self.handlers:
                raise ShadowAppError(self.name, f"{event_type!r} already has a handler")
            limit = self.default_timeout if timeout is None else timeout
            if limit is not None and limit <= 0:
                raise ShadowAppError(self.name, f"timeout of {event_type!r} must be > 0")
            self.handlers[event_type] = HandlerSpec(event_type, fn, payload, limit)
            return fn

        return register

    def table(self, ddl: str) -> None:
        """Add DDL for the app's own tables (``CREATE TABLE IF NOT EXISTS ...``)."""
        self.tables.append(ddl)

    def consumer(
        self, name: str, *, topics: Sequence[str] = (), group_suffix: str | None = None
    ) -> Callable[[ConsumerFactory], ConsumerFactory]:
        """Register an advanced consumer, in its own consumer group (``<group>.<name>``, or
        see :attr:`ConsumerSpec.group_suffix`; the handlers' group is ``<group>``)."""

        def register(factory: ConsumerFactory) -> ConsumerFactory:
            if not _NAME.match(name) or name in self.consumers:
                raise ShadowAppError(self.name, f"consumer name {name!r} is invalid or taken")
            self.consumers[name] = ConsumerSpec(name, factory, tuple(topics), group_suffix)
            return factory

        return register


__all__ = [
    "DEFAULT_SCHEMA",
    "AlreadyProcessedError",
    "Buffer",
    "CircuitBreaker",
    "CircuitOpenError",
    "Consumer",
    "ConsumerFactory",
    "ConsumerSpec",
    "EffectRejected",
    "EffectRejectedError",
    "Event",
    "Handle",
    "HandlerSpec",
    "Headers",
    "InboundEvent",
    "PoisonMessageError",
    "ProcessedRow",
    "Processor",
    "ShadowApp",
    "ShadowAppError",
    "ShadowConfigError",
    "ShadowError",
    "ShadowStore",
    "StaleReadError",
    "StoreTx",
    "StoreUnavailableError",
    "StoreWriteError",
    "TransientError",
    "WorkerContext",
    "checked_schema",
    "event_time",
    "record",
    "translate_errors",
]
