"""Messages as the runtime sees them, and their decoding into events.

:class:`RawMessage` is a broker-independent copy of one Kafka record (the
confluent-kafka adapter and the in-memory fake both produce it), so the runtime
and the dead-letter builder never touch a client object. :func:`decode` turns a
record written by the Debezium Outbox Event Router into an :class:`InboundEvent`,
or classifies it: a tombstone or a snapshot record is a delivery anomaly, not
poison; anything else that cannot be read raises :class:`PoisonMessageError`
while the raw record stays in the runtime's hands for the dead-letter topic.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import field
from datetime import UTC, datetime
from typing import Any, Literal

from cutover_common.records import record
from events.routed import (
    RoutedDecodeError,
    aggregate_version,
    decode_routed,
    header_map,
    header_text,
    is_snapshot,
    payload_of,
)
from shadow.errors import PoisonMessageError

Headers = tuple[tuple[str, bytes | None], ...]


@record
class RawMessage:
    """One Kafka record, exactly as received."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Headers = ()
    timestamp_ms: int = 0

    def header(self, name: str) -> str | None:
        """The last header called ``name`` as text (JSON-quoted strings unquoted), or None."""
        found: bytes | None = None
        for key, value in self.headers:
            if key == name:
                found = value
        return None if found is None else header_text(found)

    @property
    def key_text(self) -> str | None:
        return None if self.key is None else header_text(self.key)


@record
class InboundEvent:
    """An event decoded from the outbox, with the tracing ids carried in its headers."""

    event_id: str
    event_type: str
    aggregate_id: str
    payload: Mapping[str, Any]
    correlation_id: str = ""
    causation_id: str = ""
    sequence: int | None = None
    context: str = ""
    timestamp_ms: int = 0
    raw: RawMessage | None = field(default=None, compare=False, repr=False)
    mode: str = ""
    """The migration mode the application stamped when it wrote the event (header ``mode``;
    empty when it stamped none): it decides whether the event's effects are recorded
    (``dual``) or performed (``async``, ``events-only``)."""


@record
class Skipped:
    """A record that is not an event but is no poison either (counted as an anomaly)."""

    kind: Literal["tombstone", "snapshot"]
    context: str
    raw: RawMessage


@functools.lru_cache(maxsize=8192)
def event_time(timestamp_ms: int) -> datetime:
    """A record's timestamp (ms since the epoch) as an aware UTC time; records of a batch
    share milliseconds, so the conversion is cached."""
    return datetime.fromtimestamp(timestamp_ms / 1000, UTC)


def context_of(topic: str) -> str:
    """The context a topic belongs to: its last dot-separated part (``outbox.event.order``)."""
    return topic.rsplit(".", 1)[-1]


def decode(msg: RawMessage, known_types: frozenset[str] | None = None) -> InboundEvent | Skipped:
    """Decode an Outbox Event Router record (:func:`events.routed.decode_routed`) into an
    :class:`InboundEvent`; tombstones and snapshot reads are :class:`Skipped`."""
    context = context_of(msg.topic)
    if msg.value is None:
        return Skipped("tombstone", context, msg)
    hdrs = header_map(msg.headers)
    try:
        payload = payload_of(msg.value)
        if is_snapshot(hdrs, payload):
            return Skipped("snapshot", context, msg)
        ev = decode_routed(msg.key, None, (), payload=payload, text_headers=hdrs)
    except RoutedDecodeError as exc:
        raise PoisonMessageError("undecodable", exc.reason, error_class=exc.cause) from exc
    if known_types is not None and ev.type not in known_types:
        raise PoisonMessageError(
            "unknown_type", f"no handler knows {ev.type!r}", error_class="UnknownEventType"
        )
    return InboundEvent(  # positional: keywords double the cost of this hot constructor
        ev.id,
        ev.type,
        ev.aggregate_id,
        ev.payload,
        hdrs.get("correlation_id") or "",
        hdrs.get("causation_id") or "",
        aggregate_version(hdrs),
        context,
        msg.timestamp_ms,
        msg,  # raw
        hdrs.get("mode") or "",
    )
