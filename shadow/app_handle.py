"""The handle a handler gets: its view of the batch's transaction (:class:`cutover.shadow.Handle`).

``execute`` and ``query`` run at once, inside a savepoint opened for this event at its first
statement: when the handler fails, the savepoint is rolled back, so a retried handler finds
the transaction as it was. ``write`` queues a statement into the event's buffer (the batch
form); ``effect`` and ``emit`` add rows to it. The runtime drops the buffer of a failed
event and writes the others' in bulk with the claims.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from cutover.errors import InvalidEvent
from cutover.shadow import Event
from shadow.app_buffer import AppBuffer, OutboxEntry
from shadow.app_effects import pending_row, performs
from shadow.errors import DuplicateEffect

if TYPE_CHECKING:
    from shadow.app import AppProcessor, AppScope

T = TypeVar("T")

FOLLOW_UP_NAMESPACE = uuid.UUID("7f1c2a56-3c1e-4c53-9d0e-2b8d8e3f6a10")
"""Follow-up event ids are ``uuid5`` of this namespace and ``<consumer>:<event id>:<n>``, so a
handler run again for an event (a replay) emits the same ids, which consumers deduplicate."""


class AppHandle:
    """One event's handle (see the module docstring)."""

    __slots__ = (
        "_buffer",
        "_effects",
        "_emitted",
        "_opened",
        "_processor",
        "_scope",
        "event",
        "mode",
    )

    def __init__(
        self,
        event: Event,
        processor: AppProcessor,
        scope: AppScope,
        buffer: AppBuffer,
        mode: str,
    ) -> None:
        self.event = event
        self.mode = mode
        self._processor = processor
        self._scope = scope
        self._buffer = buffer
        self._opened = False  # this handler's savepoint is open
        self._effects: set[str] = set()  # effect names declared in this run
        self._emitted = 0

    @property
    def performs_effects(self) -> bool:
        return performs(self.mode)

    @property
    def options(self) -> Mapping[str, str]:
        return self._processor.options

    # ---------------------------------------------------------------- statements
    def _savepoint(self) -> None:
        if not self._opened:
            self._scope.tx.begin_handler()
            self._opened = True

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> int:
        self._savepoint()
        return self._scope.tx.execute(sql, params)

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        self._savepoint()
        return self._scope.tx.query(sql, params)

    def write(self, sql: str, params: Mapping[str, Any]) -> None:
        self._buffer.writes.append((sql, params if type(params) is dict else dict(params)))

    # ------------------------------------------------------------------- effects
    def effect(
        self,
        name: str,
        perform: Callable[[str], T],
        *,
        intended: T,
        request: Mapping[str, Any] | None = None,
    ) -> T:
        if name in self._effects:
            raise DuplicateEffect(self.event.type, name)
        self._effects.add(name)
        row = pending_row(
            self._processor.name,
            self.event.id,
            name,
            mode=self.mode,
            request=request,
            at=datetime.now(UTC),
        )
        result: T = self._processor.effects.run(row, perform, intended, self._buffer.effects.append)
        return result

    def emit(
        self,
        event_type: str,
        payload: Mapping[str, Any],
        *,
        aggregate_type: str,
        aggregate_id: str,
    ) -> str:
        for field, value in (
            ("event_type", event_type),
            ("aggregate_type", aggregate_type),
            ("aggregate_id", aggregate_id),
        ):
            if not isinstance(value, str) or not value.strip():
                raise InvalidEvent(field, "must be a non-empty string")
        if not isinstance(payload, Mapping):
            raise InvalidEvent("payload", f"must be a JSON object, not {type(payload).__name__}")
        contracts = self._processor.contracts
        if contracts is not None and event_type in contracts.types:
            contracts.validate(event_type, payload)
        self._emitted += 1
        event = self.event
        new_id = uuid.uuid5(
            FOLLOW_UP_NAMESPACE, f"{self._processor.name}:{event.id}:{self._emitted}"
        )
        self._buffer.outbox.append(
            OutboxEntry(
                new_id, aggregate_type, aggregate_id, event_type, dict(payload),
                event.correlation_id or None, event.id, self.mode, datetime.now(UTC),
            )
        )  # fmt: skip
        return str(new_id)

    # ------------------------------------------------------------- end of the event
    def rollback(self) -> None:
        """The handler failed: undo its statements (if it ran any)."""
        if self._opened:
            self._opened = False
            self._scope.tx.end_handler(ok=False)

    def release(self) -> None:
        """The handler succeeded: its statements stay (held until its buffer is written:
        :meth:`shadow.app_store_tx.AppStoreTx.end_handler`)."""
        if self._opened:
            self._opened = False
            self._scope.tx.end_handler(ok=True)
