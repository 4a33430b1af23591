"""The shadow store port: a transaction that claims events and writes a batch's buffer.

What the runtime (:mod:`shadow.runtime`) calls, and nothing else: the processed-event
claims, the bulk write of a processor's buffer (:class:`shadow.plugin.Buffer`), the
delivery-anomaly counters and the per-aggregate sequences. What a buffer holds and which
tables it lands in is the store's own business: the handler apps' store
(:mod:`shadow.app_store`) and the sample order flow's (``legacy_app.orderflow.store_pg``)
implement it, each with an in-memory twin for unit tests.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Protocol

from shadow.errors import ShadowError


class AlreadyProcessedError(ShadowError):
    """Raised by :meth:`StoreTx.apply` when another worker applied some of these events first.

    ``event_ids`` are the ids written together with the conflicting one(s); the runtime
    rolls back and redoes the batch, whose claim check then skips the done ones.
    """

    def __init__(self, consumer: str, event_ids: Collection[str]) -> None:
        super().__init__(f"{len(event_ids)} event(s) already processed by {consumer}")
        self.consumer = consumer
        self.event_ids = frozenset(event_ids)


class StoreWriteError(ShadowError):
    """Raised when the store refuses rows (constraint, data or SQL error): not worth retrying as is.

    ``cause`` is the driver's exception class name.
    """

    def __init__(self, cause: str, message: str) -> None:
        super().__init__(f"shadow store refused the write ({cause}): {message}")
        self.cause = cause


class StoreUnavailableError(ShadowError):
    """Raised when the store cannot be reached or the connection broke: retry later."""

    def __init__(self, cause: str, message: str) -> None:
        super().__init__(f"shadow store unavailable ({cause}): {message}")
        self.cause = cause


class StoreTx(Protocol):
    """One open shadow-store transaction."""

    def processed_ids(self, consumer: str, event_ids: Collection[str]) -> set[str]:
        """The subset of ``event_ids`` that ``consumer`` has already applied."""

    def apply(self, changes: Any) -> None:
        """Write a processor's buffer; processed rows first (a conflict raises
        AlreadyProcessedError)."""

    def apply_encoded(self, encoded: object) -> None:
        """Write changes encoded by :meth:`ShadowStore.encode` whose keys are expected to be
        new; where one exists the adapter may merge it or fail the transaction with
        :class:`StoreWriteError` (processed rows as in :meth:`apply`)."""

    def add_anomalies(self, counts: Mapping[tuple[str, str], int]) -> None:
        """Add ``(context, kind) -> n`` to the delivery-anomaly counters."""

    def last_sequences(
        self, consumer: str, context: str, aggregate_ids: Collection[str]
    ) -> dict[str, int]:
        """The highest sequence ``consumer`` has seen per aggregate of ``context``."""

    def set_sequences(self, consumer: str, context: str, sequences: Mapping[str, int]) -> None:
        """Remember the highest sequence ``consumer`` has seen per aggregate."""

    def savepoint(self) -> AbstractContextManager[None]:
        """A nested transaction: an exception inside rolls back only its writes."""


class ShadowStore(Protocol):
    """The shadow store: schema, transactions and the read side used by comparators."""

    schema: str

    def ensure_schema(self) -> None:
        """Create the tables if needed (idempotent; existing rows are kept)."""

    def encode(self, changes: Any) -> object:
        """``changes`` made ready for :meth:`StoreTx.apply_encoded` of any transaction of this
        store kind; pure, so one thread can encode while another writes."""

    def transaction(self) -> AbstractContextManager[StoreTx]:
        """Open a transaction; it commits when the block ends without an exception."""

    def anomaly_counts(self) -> dict[str, dict[str, int]]:
        """Delivery anomalies per context: ``{context: {kind: count}}``."""

    def table_counts(self) -> dict[str, int]:
        """Rows per shadow table (for status and tests)."""

    def rebuild_since(self, since: datetime) -> int:
        """Forget what was derived from events at or after ``since`` (processed-event claims
        included, so a replay applies them again); returns how many items were forgotten."""

    def close(self) -> None:
        """Release connections."""
