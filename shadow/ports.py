"""Ports of the consumer runtime: the Kafka consumer and the dead-letter producer.

The confluent-kafka adapters live in :mod:`shadow.kafka`, in-memory fakes in
:mod:`shadow.fakes`; the runtime only sees these protocols and
:class:`~shadow.messages.RawMessage`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from shadow.messages import Headers, RawMessage

TP = tuple[str, int]
"""A topic partition as ``(topic, partition)``."""

RebalanceHook = Callable[[Sequence[TP]], None]
DeliveryHook = Callable[[str | None], None]
"""Called once per produced record with ``None`` (delivered) or the error text."""


class ConsumerPort(Protocol):
    """A Kafka consumer in a consumer group, with manual offset storage."""

    def subscribe(
        self, topics: Sequence[str], on_assign: RebalanceHook, on_revoke: RebalanceHook
    ) -> None: ...

    def consume(self, num_messages: int, timeout: float) -> list[RawMessage]: ...

    def store_offsets(self, offsets: dict[TP, int]) -> None:
        """Mark ``offset`` (the next one to read) as done per partition; committed later."""

    def commit(self) -> None:
        """Commit the stored offsets now (synchronously); no-op when nothing is stored."""

    def commit_note(self, tp: TP, offset: int, note: str) -> None:
        """Commit ``offset`` of ``tp`` now with ``note`` as the commit's metadata (the
        worker's stuck state, :mod:`shadow.stuck`); a later commit that moves the offset
        carries none. A failure is logged, not raised."""

    def seek(self, tp: TP, offset: int) -> None: ...

    def pause(self, tps: Sequence[TP]) -> None: ...

    def resume(self, tps: Sequence[TP]) -> None: ...

    def assignment(self) -> list[TP]: ...

    def positions(self) -> dict[TP, int]:
        """Next offset the application will read, per assigned partition (past control records)."""

    def lag(self) -> dict[TP, int]:
        """High watermark minus position, per assigned partition."""

    def close(self) -> None: ...


class ProducerPort(Protocol):
    """An asynchronous producer (dead-letter topic)."""

    def produce(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: Headers,
        on_delivery: DeliveryHook,
    ) -> None: ...

    def poll(self, timeout: float) -> int: ...

    def flush(self, timeout: float) -> int:
        """Wait for outstanding deliveries; returns how many are still outstanding."""
