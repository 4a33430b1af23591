"""The processor of a team's handler app: the runtime drives it, the handlers do the rest.

:class:`AppProcessor` is a :class:`shadow.plugin.Processor` for the handlers a
:class:`cutover.shadow.ShadowApp` registers. Per event:

* ``parse`` — the payload is checked against the app's contracts (its written version, from
  the ``schema_version`` header, else the latest; brought to the latest by the upcasters),
  then converted to the handler's ``payload`` type; a failure is poison (``schema_invalid``);
* ``apply`` — the handler runs with an :class:`cutover.shadow.Event` and a handle on the
  batch's transaction (:mod:`shadow.app_handle`), under its timeout; it must return None.
  A handler that raises (or times out, or returns a value) is retried by the runtime, then
  dead-lettered with its reason; its writes are rolled back each time.

Which types are poison: with a contracts directory, a type it does not know is
``unknown_type``; a type it knows that no handler takes is ignored. Without one, every
type no handler takes is ignored.

This processor does not support write-behind: handlers write through their own
statements, which the runtime cannot replay against a cache.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from types import FrameType
from typing import Any

import msgspec

from cutover.shadow import Consumer, Event, ShadowApp, WorkerContext
from events.registry import ContractRegistry, Contracts
from shadow.app_buffer import AppBuffer
from shadow.app_effects import EffectRunner, performs
from shadow.app_handle import AppHandle
from shadow.app_store import AppStore
from shadow.app_store_tx import AppStoreTx
from shadow.errors import (
    HandlerResultError,
    HandlerTimeout,
    PoisonMessageError,
    ShadowConfigError,
)
from shadow.messages import InboundEvent, event_time

VERSION_HEADERS = ("schema_version", "version")
"""Headers naming the contract version an event was written at (first found wins)."""


@dataclass(frozen=True, slots=True)
class Parsed:
    """What ``parse`` made of an event: the checked (upcast) payload and the typed data."""

    payload: Mapping[str, Any]
    data: Any


@dataclass(frozen=True, slots=True)
class AppScope:
    """What every handler of a batch shares: the store transaction."""

    tx: AppStoreTx
    now: datetime


def _one_line(exc: BaseException, limit: int = 300) -> str:
    return " ".join(str(exc).split())[:limit] or type(exc).__name__


def convert_payload(payload: Mapping[str, Any], target: type[Any]) -> Any:
    """``payload`` as ``target``: a pydantic model (``model_validate``), else anything msgspec
    converts to (Struct, dataclass, TypedDict, ...); raises ``schema_invalid`` poison."""
    try:
        validate = getattr(target, "model_validate", None)
        if callable(validate):
            return validate(payload)
        return msgspec.convert(payload, type=target)
    except Exception as exc:
        name = getattr(target, "__name__", repr(target))
        raise PoisonMessageError(
            "schema_invalid",
            f"payload does not convert to {name}: {_one_line(exc)}",
            error_class=type(exc).__name__,
        ) from exc


class _Alarm:
    """``SIGALRM`` interrupting a handler past its timeout (main thread only)."""

    def __init__(self) -> None:
        self._armed: tuple[str, float] | None = None
        self._installed = False

    def _fire(self, _signum: int, _frame: FrameType | None) -> None:
        armed = self._armed
        if armed is not None:
            self._armed = None
            raise HandlerTimeout(*armed)

    @contextmanager
    def deadline(self, event_type: str, seconds: float) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield  # signals reach the main thread only: the overrun is found afterwards
            return
        if not self._installed:
            signal.signal(signal.SIGALRM, self._fire)
            self._installed = True
        self._armed = (event_type, seconds)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            yield
        finally:
            self._armed = None
            signal.setitimer(signal.ITIMER_REAL, 0)


class AppProcessor:
    """Runs a :class:`ShadowApp`'s handlers (see the module docstring).

    ``default_mode``: the mode of events that carry none. ``interrupt``: interrupt a handler
    at its timeout with ``SIGALRM`` (default: when constructed in the main thread); else an
    overrun is found when the handler returns. ``clock`` measures handlers and drives the
    effects' breakers; ``effects`` holds those breakers and the memo of performed effects.
    """

    supports_write_behind = False

    def __init__(
        self,
        app: ShadowApp,
        *,
        default_mode: str = "dual",
        contracts: Contracts | None = None,
        clock: Callable[[], float] = time.monotonic,
        interrupt: bool | None = None,
        effects: EffectRunner | None = None,
        options: Mapping[str, str] | None = None,
    ) -> None:
        self.app = app
        self.options: Mapping[str, str] = dict(options or {})
        self.name = app.name
        self.entry_types = frozenset(app.handlers)
        self.contracts = contracts
        self.known_types: frozenset[str] | None = contracts.types if contracts else None
        if contracts is not None:
            missing = sorted(self.entry_types - contracts.types)
            if missing:
                raise ShadowConfigError(
                    "contracts", f"no contract in {contracts.source} for handled {missing}"
                )
        self.default_mode = default_mode
        self.clock = clock
        if interrupt is None:
            interrupt = threading.current_thread() is threading.main_thread()
        self._alarm = _Alarm() if interrupt else None
        self.effects = effects or EffectRunner(clock=clock)

    # ------------------------------------------------------------------------ parse
    def parse(self, event: InboundEvent) -> Parsed:
        payload = self._checked(event)
        target = self.app.handlers[event.event_type].payload
        return Parsed(payload, None if target is None else convert_payload(payload, target))

    def _checked(self, event: InboundEvent) -> Mapping[str, Any]:
        contracts = self.contracts
        if contracts is None:
            return event.payload
        kind = event.event_type
        try:
            version = _written_version(event)
            contracts.validate(kind, event.payload, version)
            if version is None or version == contracts.latest(kind):
                return event.payload
            return contracts.upcast(kind, version, event.payload)
        except Exception as exc:  # a contract error, or an upcaster's bug: never the handler
            raise PoisonMessageError(
                "schema_invalid", _one_line(exc), error_class=type(exc).__name__
            ) from exc

    # ------------------------------------------------------------------------ apply
    def new_buffer(self) -> AppBuffer:
        return AppBuffer()

    def begin(
        self, tx: Any, todo: Sequence[tuple[InboundEvent, object]], *, locked: bool
    ) -> AppScope:
        assert isinstance(tx, AppStoreTx)
        return AppScope(tx, datetime.now(UTC))

    def apply(
        self, event: InboundEvent, parsed: object, changes: Any, batch: Any, scope: object
    ) -> None:
        assert isinstance(parsed, Parsed) and isinstance(scope, AppScope)
        scope.tx.next_event()
        spec = self.app.handlers[event.event_type]
        mode = event.mode or self.default_mode
        handle = AppHandle(self._event(event, parsed), self, scope, changes, mode)
        fn: Callable[[Event, AppHandle], object] = spec.fn  # it may return junk
        started = self.clock()
        try:
            if self._alarm is not None and spec.timeout is not None:
                with self._alarm.deadline(event.event_type, spec.timeout):
                    returned = fn(handle.event, handle)
            else:
                returned = fn(handle.event, handle)
            if spec.timeout is not None and self.clock() - started > spec.timeout:
                raise HandlerTimeout(event.event_type, spec.timeout)
            if returned is not None:
                raise HandlerResultError(event.event_type, returned)
        except BaseException:
            handle.rollback()
            raise
        handle.release()

    def _event(self, ev: InboundEvent, parsed: Parsed) -> Event:
        raw = ev.raw
        return Event(
            ev.event_id,
            ev.event_type,
            ev.aggregate_id,
            parsed.payload,
            parsed.data,
            ev.mode,
            ev.correlation_id,
            ev.causation_id,
            ev.sequence,
            event_time(ev.timestamp_ms) if ev.timestamp_ms else None,
            raw.topic if raw is not None else "",
        )

    def replayable(self, event: InboundEvent) -> bool:
        """True when the event's effects are only recorded (its mode, else the default)."""
        return not performs(event.mode or self.default_mode)

    # ------------------------------------------- write-behind: not supported, no-ops
    def expectation(self, scope: object) -> Mapping[str, Any]:
        return {}

    def confirm(self, tx: Any, expected: Mapping[str, Any]) -> None:
        return None

    def remember(self, scope: object, batch: Any) -> None:
        return None

    def forget(self) -> None:
        return None


def _written_version(event: InboundEvent) -> int | None:
    raw = event.raw
    if raw is None:
        return None
    for name in VERSION_HEADERS:
        text = raw.header(name)
        if text:
            try:
                return int(text)
            except ValueError:
                raise PoisonMessageError(
                    "schema_invalid", f"header {name} {text!r} is not a version number"
                ) from None
    return None


def handler_consumer(app: ShadowApp, ctx: WorkerContext) -> Consumer:
    """The consumer running ``app``'s handlers: an :class:`AppProcessor` (contracts loaded
    from the app's directory) on an :class:`AppStore` in ``ctx.schema``; serial (no writer).

    Connects to nothing yet; the runner calls ``store.ensure_schema()`` before the worker
    starts. A bad contracts directory raises
    :class:`~events.errors.ContractDirectoryInvalid` naming the file.
    """
    contracts = ContractRegistry.load(app.contracts) if app.contracts is not None else None
    processor = AppProcessor(
        app, default_mode=ctx.default_mode, contracts=contracts, options=ctx.options
    )
    store = AppStore.postgres(ctx.dsn, ctx.schema, app.tables)
    return Consumer(processor, store, None)


def app_consumers(app: ShadowApp, ctx: WorkerContext) -> list[tuple[str, Consumer]]:
    """Every consumer of ``app`` by name: its handlers' (named after the app, when it has
    handlers), then each advanced consumer's, from its factory."""
    found: list[tuple[str, Consumer]] = []
    if app.handlers:
        found.append((app.name, handler_consumer(app, ctx)))
    for spec in app.consumers.values():
        found.append((spec.name, spec.factory(ctx)))
    return found
