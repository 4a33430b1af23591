"""Outbox events as the Debezium Outbox Event Router publishes them, decoded into envelopes.

The router writes ``key`` = aggregate id, ``value`` = the payload, headers
``id``, ``type``, ``correlation_id``, ``causation_id``, ``aggregate_version``
and the topic ``<prefix>.<aggregatetype>``. :func:`decode_outbox` reads that
shape into :class:`OutboxEvent` (independent of :mod:`events`); :func:`to_envelope`
turns it into the shared :class:`events.envelope.Envelope`.

``aggregate_version`` (the event's position in its aggregate's history) arrives
as the decimal text of the outbox column (``b"2"``). It is absent when the row
has no such column (the router's ``table.field.additional.missing=ignore``) and
``0`` when the writer did not know it (the column's default); both decode to
``None``: not versioned, not checked for gaps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cdc.errors import DecodeError
from events.routed import (
    RawHeaders,
    RoutedDecodeError,
    aggregate_version,
    decode_routed,
    header_map,
)

if TYPE_CHECKING:
    from events.envelope import Envelope

Headers = RawHeaders
"""Kafka headers as a client gives them (the routed decoder's type)."""


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    """One routed outbox event."""

    id: str
    aggregate_type: str
    aggregate_id: str
    type: str
    payload: dict[str, Any] = field(hash=False)
    correlation_id: str | None = None
    causation_id: str | None = None
    topic: str | None = None
    timestamp_ms: int | None = None
    aggregate_version: int | None = None


def decode_outbox(
    key: bytes | str | None,
    value: bytes | str | None,
    headers: Headers,
    *,
    topic: str,
    topic_prefix: str = "outbox.event",
    timestamp_ms: int | None = None,
) -> OutboxEvent:
    """Decode one routed outbox message (:func:`events.routed.decode_routed`);
    :class:`DecodeError` keeps the raw value."""
    raw = value.encode() if isinstance(value, str) else value
    try:
        hdrs = header_map(headers)
        if raw is None:
            raise RoutedDecodeError("the payload is not a JSON object")
        event = decode_routed(key, raw, (), text_headers=hdrs)
        prefix = topic_prefix + "."
        return OutboxEvent(
            id=event.id,
            aggregate_type=topic[len(prefix) :] if topic.startswith(prefix) else topic,
            aggregate_id=event.aggregate_id,
            type=event.type,
            payload=event.payload,
            correlation_id=event.correlation_id or None,
            causation_id=event.causation_id or None,
            topic=topic,
            timestamp_ms=timestamp_ms,
            aggregate_version=aggregate_version(hdrs, strict=True),
        )
    except RoutedDecodeError as exc:
        raw_key = key.encode() if isinstance(key, str) else key
        raise DecodeError(exc.reason, raw=raw, key=raw_key, topic=topic) from exc


def to_envelope(event: OutboxEvent) -> Envelope:
    """The shared :class:`events.envelope.Envelope` for an outbox event."""
    from events.envelope import OUTBOX_SOURCE_PREFIX, Envelope

    time = (
        datetime.fromtimestamp(event.timestamp_ms / 1000, tz=UTC)
        if event.timestamp_ms is not None
        else None
    )
    return Envelope(
        id=event.id,
        source=OUTBOX_SOURCE_PREFIX + event.aggregate_type,
        type=event.type,
        data=dict(event.payload),
        time=time,
        subject=event.aggregate_id,
        correlation_id=event.correlation_id,
        causation_id=event.causation_id,
        aggregate_version=event.aggregate_version,
    )
