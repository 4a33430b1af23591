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
import json
from collections.abc import Mapping, Sequence
from dataclasses import field
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

from cutover_common.records import record
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
        return None if found is None else _text(found)

    @property
    def key_text(self) -> str | None:
        return None if self.key is None else _text(self.key)


def _text(raw: bytes) -> str:
    text = raw.decode("utf-8", "replace")
    if text[:1] == '"' and text[-1:] == '"' and len(text) >= 2:
        if "\\" not in text and '"' not in text[1:-1]:
            return text[1:-1]  # the common case: a plain quoted string, nothing to unescape
        try:
            loaded = json.loads(text)
        except ValueError:
            return text
        return str(loaded)
    return text


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


_SEQUENCE_HEADERS: Sequence[str] = ("sequence", "aggregate_version", "version_seq")


def decode(msg: RawMessage, known_types: frozenset[str] | None = None) -> InboundEvent | Skipped:
    """Decode an Outbox Event Router record (value = payload JSON, id/type/... in headers)."""
    context = context_of(msg.topic)
    if msg.value is None:
        return Skipped("tombstone", context, msg)
    payload = _payload(msg.value)
    hdrs = {k: _text(v) for k, v in msg.headers if v is not None}
    if _is_snapshot(hdrs, payload):
        return Skipped("snapshot", context, msg)
    event_type = hdrs.get("type") or (payload.get("type") if isinstance(payload, dict) else None)
    event_id = hdrs.get("id")
    if not event_id or not event_type:
        raise PoisonMessageError(
            "undecodable", "missing id or type header", error_class="MissingHeader"
        )
    if not isinstance(payload, dict):
        raise PoisonMessageError(
            "undecodable", "payload is not a JSON object", error_class="TypeError"
        )
    if known_types is not None and event_type not in known_types:
        raise PoisonMessageError(
            "unknown_type", f"no handler knows {event_type!r}", error_class="UnknownEventType"
        )
    return InboundEvent(  # positional: keywords double the cost of this hot constructor
        event_id,
        str(event_type),
        msg.key_text or str(payload.get("order_id", "")),  # aggregate_id
        payload,
        hdrs.get("correlation_id") or "",
        hdrs.get("causation_id") or "",
        _sequence(hdrs),
        context,
        msg.timestamp_ms,
        msg,  # raw
        hdrs.get("mode") or "",
    )


def _payload(value: bytes) -> Any:
    try:
        data = orjson.loads(value)
        if isinstance(data, str):  # JsonConverter without expand.json.payload: JSON in a string
            data = orjson.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PoisonMessageError(
            "undecodable", f"value is not JSON: {exc}", error_class=type(exc).__name__
        ) from exc
    return data


def _is_snapshot(hdrs: Mapping[str, str], payload: Any) -> bool:
    if hdrs.get("__debezium.op") == "r" or hdrs.get("__op") == "r":
        return True
    if isinstance(payload, dict) and payload.get("op") == "r" and "source" in payload:
        return True
    source = payload.get("source") if isinstance(payload, dict) else None
    return isinstance(source, dict) and str(source.get("snapshot", "false")) in (
        "true",
        "last",
        "first",
    )


def _sequence(hdrs: Mapping[str, str]) -> int | None:
    """The aggregate version from the first sequence header present (Debezium sends the
    outbox's integer column as its decimal text, ``b"2"``); ``0`` or junk means "unversioned"."""
    for name in _SEQUENCE_HEADERS:
        value = hdrs.get(name)
        if value is not None:
            try:
                seq = int(value)
            except ValueError:
                return None
            return seq if seq > 0 else None
    return None
