"""The one decoder of messages published by Debezium's Outbox Event Router.

The router writes ``key`` = the aggregate id, ``value`` = the payload, and headers
``id``, ``type`` and whatever extra columns the connector places as headers
(``correlation_id``, ``causation_id``, ``aggregate_version``, ``mode``, ...). Every
reader of routed messages decodes them here: the shadow runtime
(:func:`shadow.messages.decode`), the CDC tools (:func:`cdc.outbox.decode_outbox`) and
the envelope (:meth:`events.envelope.Envelope.from_outbox_message`). Pure: no I/O.

Tolerated converter variants: a plain JSON payload, a JSON string holding the JSON (a
``jsonb`` column without ``expand.json.payload``), and the ``{"schema", "payload"}``
wrapper of a schema-enabled JsonConverter. A header holding a JSON-encoded string
(``"\\"abc\\""``) is unquoted.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from cutover_common.records import record

RawHeaders = Mapping[str, bytes | str | None] | Iterable[tuple[str, bytes | str | None]] | None
"""Kafka headers as a client gives them: pairs (confluent-kafka) or a mapping."""

VERSION_HEADERS: tuple[str, ...] = ("aggregate_version", "sequence", "version_seq")
"""Headers that may carry the event's position in its aggregate's history, first found wins."""


class RoutedDecodeError(ValueError):
    """Raised by :func:`decode_routed` when a message is not a routed outbox event; callers
    wrap it in their package's error, keeping the raw message."""

    def __init__(self, reason: str, *, cause: str = "undecodable") -> None:
        super().__init__(reason)
        self.reason = reason
        self.cause = cause


@record
class RoutedEvent:
    """One routed outbox message, decoded."""

    id: str
    type: str
    aggregate_id: str
    payload: dict[str, Any]
    headers: dict[str, str]
    """Every header as text (last one of a name wins)."""

    @property
    def correlation_id(self) -> str:
        return self.headers.get("correlation_id", "")

    @property
    def causation_id(self) -> str:
        return self.headers.get("causation_id", "")

    @property
    def mode(self) -> str:
        """The migration mode the application stamped (empty when none)."""
        return self.headers.get("mode", "")


def header_text(raw: bytes | str) -> str:
    """One header value as text; a JSON-encoded string is unquoted."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes | bytearray) else str(raw)
    if text[:1] == '"' and text[-1:] == '"' and len(text) >= 2:
        if "\\" not in text and '"' not in text[1:-1]:
            return text[1:-1]  # the common case: a plain quoted string, nothing to unescape
        try:
            loaded = json.loads(text)
        except ValueError:
            return text
        return loaded if isinstance(loaded, str) else text
    return text


def header_map(headers: RawHeaders) -> dict[str, str]:
    """Headers as text; absent (``None``) values are left out; last one of a name wins."""
    if headers is None:
        return {}
    items = headers.items() if isinstance(headers, Mapping) else headers
    return {str(k): header_text(v) for k, v in items if v is not None}


def payload_of(value: bytes | str) -> Any:
    """The JSON value of a message, unwrapped from the converter variants (module docstring)."""
    try:
        data = orjson.loads(value)
        if isinstance(data, str):
            data = orjson.loads(data)
    except (orjson.JSONDecodeError, UnicodeDecodeError, TypeError) as exc:
        raise RoutedDecodeError(f"value is not JSON: {exc}", cause=type(exc).__name__) from exc
    if isinstance(data, dict) and len(data) == 2 and "schema" in data and "payload" in data:
        inner = data["payload"]
        try:
            data = orjson.loads(inner) if isinstance(inner, str) else inner
        except orjson.JSONDecodeError as exc:
            raise RoutedDecodeError(f"value is not JSON: {exc}", cause=type(exc).__name__) from exc
    return data


def is_snapshot(headers: Mapping[str, str], payload: Any) -> bool:
    """Whether a message is a snapshot read (``op`` = ``r``) rather than a routed event."""
    if headers.get("__debezium.op") == "r" or headers.get("__op") == "r":
        return True
    if isinstance(payload, dict) and payload.get("op") == "r" and "source" in payload:
        return True
    source = payload.get("source") if isinstance(payload, dict) else None
    return isinstance(source, dict) and str(source.get("snapshot", "false")) in (
        "true",
        "last",
        "first",
    )


def decode_routed(
    key: bytes | str | None,
    value: bytes | str | None,
    headers: RawHeaders,
    *,
    payload: Any = None,
    text_headers: dict[str, str] | None = None,
) -> RoutedEvent:
    """Decode one routed message (a tombstone — ``value`` None — is an error here: callers
    that count tombstones check first). ``payload`` and ``text_headers``: the value and the
    headers already decoded (:func:`payload_of`, :func:`header_map`), to decode them once."""
    hdrs = header_map(headers) if text_headers is None else text_headers
    if payload is None:
        if value is None:
            raise RoutedDecodeError("value is empty (a tombstone)")
        payload = payload_of(value)
    event_type = hdrs.get("type") or (payload.get("type") if isinstance(payload, dict) else None)
    event_id = hdrs.get("id")
    if not event_id or not event_type:
        raise RoutedDecodeError("header 'id' or 'type' missing", cause="MissingHeader")
    if not isinstance(payload, dict):
        raise RoutedDecodeError("the payload is not a JSON object", cause="TypeError")
    aggregate_id = "" if key is None else header_text(key) if isinstance(key, bytes) else key
    return RoutedEvent(event_id, str(event_type), aggregate_id, payload, hdrs)


def aggregate_version(headers: Mapping[str, str], *, strict: bool = False) -> int | None:
    """The aggregate version from the first version header present; absent, empty or ``0``
    means "not versioned" (``None``). Junk is ``None`` too, or :class:`RoutedDecodeError`
    when ``strict``."""
    for name in VERSION_HEADERS:
        text = headers.get(name)
        if text is None:
            continue
        if text.isascii() and text.isdigit():
            return int(text) or None
        if strict and text != "":
            raise RoutedDecodeError(
                f"aggregate version ({name}) {text!r} is not a non-negative integer"
            )
        return None
    return None
