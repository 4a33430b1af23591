"""What the runtime asks of the code it runs: a :class:`Processor` and its :class:`Buffer`.

The runtime (:mod:`shadow.runtime`) knows no domain. One consumer group runs one
processor. Per batch, the runtime

1. decodes each record and asks the processor to ``parse`` the events it takes
   (``entry_types``); a parse error is poison (dead-lettered with its reason);
2. opens a store transaction, skips events this consumer already applied
   (the processed-event claim), and calls ``begin`` once: the processor reads what
   its handlers need for the whole batch (locked, in the transaction) into a scope;
3. calls ``apply`` once per event, with a fresh buffer; a handler that raises is
   retried, then dead-lettered, and its buffer is dropped — its neighbours keep theirs;
4. merges the buffers of the events that succeeded and writes them in bulk
   (``StoreTx.apply``), together with the processed-event rows; commits; stores offsets.

Write-behind (optional): a processor whose handlers can run twice harmlessly for an
event (``replayable``: its effects are only recorded) may let the runtime run a batch's
handlers while the previous batch is still being written. It then reads without locks
(``begin(..., locked=False)``), tells what it read (``expectation``), and the write
checks that under lock (``confirm``, raising :class:`StaleReadError`); caches it keeps
across batches are dropped by ``forget``. A processor that does not support it says
so with ``supports_write_behind = False``.

Two processors implement this in the repository: the handler app of the public
``cutover.shadow`` package (handlers that teams register) and the sample's order flow,
which plugs in through that same public package.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol, Self

from cutover_common.records import record
from shadow.errors import ShadowError
from shadow.messages import InboundEvent


@record
class ProcessedRow:
    """An event a consumer has applied (idempotency key: consumer + event id)."""

    consumer: str
    event_id: str
    event_ts: datetime


class Buffer(Protocol):
    """What handlers write for one event (or a whole batch), flushed by the store in bulk."""

    processed: list[ProcessedRow]

    def merge(self, other: Self) -> None:
        """Apply ``other`` on top of this buffer."""


class StaleReadError(ShadowError):
    """Raised by :meth:`Processor.confirm` when state read without locks for a batch written
    behind changed before the write locked it; the runtime redoes that batch serially."""

    def __init__(self, keys: Collection[str]) -> None:
        super().__init__(f"state changed under the batch for {len(keys)} key(s)")
        self.keys = frozenset(keys)


class Processor(Protocol):
    """What one consumer group does with events (see the module docstring)."""

    name: str
    """The consumer's name: the idempotency claim (``processed_events.consumer``) and metrics."""

    entry_types: frozenset[str]
    """Event types this processor takes."""

    known_types: frozenset[str] | None
    """Types that are known but not taken (ignored, not poison); ``None``: every type is known."""

    supports_write_behind: bool

    def parse(self, event: InboundEvent) -> object:
        """The event's payload decoded and checked (raises PoisonMessageError ``schema_invalid``)."""

    def new_buffer(self) -> Any:
        """An empty :class:`Buffer` of this processor's kind."""

    def begin(
        self, tx: Any, todo: Sequence[tuple[InboundEvent, object]], *, locked: bool
    ) -> object:
        """Read what the batch's handlers need (a scope handed to every ``apply``).

        ``tx`` is the store transaction, ``todo`` the events to apply with what ``parse``
        made of them; ``locked=False`` only for write-behind (no row locks).
        """

    def apply(
        self, event: InboundEvent, parsed: object, changes: Any, batch: Any, scope: object
    ) -> None:
        """Run the handler of one event, writing into ``changes``; ``batch`` holds what the
        batch's earlier events wrote (merged), for handlers that read their own writes."""

    def replayable(self, event: InboundEvent) -> bool:
        """Whether running this event's handler again is harmless (effects only recorded)."""

    def expectation(self, scope: object) -> Mapping[str, Any]:
        """Write-behind: what ``begin(locked=False)`` read, for :meth:`confirm`."""

    def confirm(self, tx: Any, expected: Mapping[str, Any]) -> None:
        """Write-behind: lock what was read and raise :class:`StaleReadError` if it changed."""

    def remember(self, scope: object, batch: Any) -> None:
        """Write-behind: the batch's handlers ran; keep what the next batch may reuse."""

    def forget(self) -> None:
        """Drop every cache kept across batches (rebalance, redo)."""
