"""Decode Debezium change events from Kafka messages (JSON converter).

Handles envelopes with an embedded schema (``{"schema": ..., "payload": ...}``)
and without; ``op`` ``c``/``u``/``d``/``r``, logical decoding messages
(``m``), transaction metadata (``BEGIN``/``END``), heartbeats and tombstones
(a null value). The unavailable-TOAST placeholder
(``__debezium_unavailable_value``) becomes :data:`UNAVAILABLE`: an unknown
value, never a change. A message that cannot be decoded raises
:class:`~cdc.errors.DecodeError` carrying its raw bytes.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

from cdc.errors import DecodeError

PLACEHOLDER: Final = "__debezium_unavailable_value"
PLACEHOLDER_B64: Final = base64.b64encode(PLACEHOLDER.encode()).decode()
OPS: Final = {"c": "create", "u": "update", "d": "delete", "r": "read"}


class Unavailable:
    """An unchanged TOASTed value Debezium could not read: unknown, not a change."""

    _instance: Unavailable | None = None

    def __new__(cls) -> Unavailable:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNAVAILABLE"

    def __bool__(self) -> bool:
        return False


UNAVAILABLE: Final = Unavailable()
Row = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Source:
    """The ``source`` block: where and when the change happened."""

    connector: str
    name: str
    db: str
    schema: str
    table: str
    lsn: int | None
    tx_id: int | None
    ts_ms: int | None
    snapshot: str
    version: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Source:
        return cls(
            connector=str(data.get("connector", "")),
            name=str(data.get("name", "")),
            db=str(data.get("db", "")),
            schema=str(data.get("schema", "")),
            table=str(data.get("table", "")),
            lsn=_int(data.get("lsn")),
            tx_id=_int(data.get("txId")),
            ts_ms=_int(data.get("ts_ms")),
            snapshot=str(data.get("snapshot", "false")).lower(),
            version=str(data.get("version", "")),
            raw=dict(data),
        )

    @property
    def is_snapshot(self) -> bool:
        return self.snapshot not in ("false", "", "none")

    @property
    def qualified_table(self) -> str:
        return f"{self.schema}.{self.table}"


@dataclass(frozen=True, slots=True)
class ChangeEvent:
    """One row change: ``op`` c/u/d/r with ``before``/``after`` rows and its ``source``.

    With REPLICA IDENTITY DEFAULT, an update has no ``before`` and a delete's
    ``before`` holds only the key columns faithfully (Debezium fills the other
    NOT NULL columns with defaults such as ``""`` and ``0``).
    """

    op: str
    before: Row | None
    after: Row | None
    source: Source
    ts_ms: int | None
    key: Any = None
    topic: str | None = None
    transaction: Mapping[str, Any] | None = None

    @property
    def is_snapshot(self) -> bool:
        return self.op == "r" or self.source.is_snapshot

    @property
    def row(self) -> Row:
        """The row as it is now (``after``), or as it was before a delete."""
        return self.after if self.after is not None else (self.before or {})

    def unavailable_columns(self) -> frozenset[str]:
        """Columns whose new value Debezium could not read (unchanged TOAST)."""
        return frozenset(k for k, v in (self.after or {}).items() if v is UNAVAILABLE)

    def known_after(self) -> dict[str, Any]:
        """``after`` without the unavailable columns."""
        return {k: v for k, v in (self.after or {}).items() if v is not UNAVAILABLE}

    def changed_columns(self) -> frozenset[str]:
        """Columns this event changes; unavailable ones are never counted as changed.

        Without a ``before`` image (REPLICA IDENTITY DEFAULT) every known column counts.
        """
        if self.op == "d":
            return frozenset((self.before or {}).keys())
        known = self.known_after()
        if self.before is None:
            return frozenset(known)
        return frozenset(k for k, v in known.items() if self.before.get(k) != v)

    def merged_after(self, previous: Row) -> dict[str, Any]:
        """``after`` with unavailable columns filled from a previously known row."""
        return {
            k: (previous.get(k, UNAVAILABLE) if v is UNAVAILABLE else v)
            for k, v in (self.after or {}).items()
        }


@dataclass(frozen=True, slots=True)
class MessageEvent:
    """A logical decoding message (``pg_logical_emit_message``), ``op`` ``m``."""

    prefix: str
    content: bytes
    source: Source
    ts_ms: int | None
    topic: str | None = None


@dataclass(frozen=True, slots=True)
class TransactionEvent:
    """Transaction metadata (``provide.transaction.metadata``): BEGIN or END."""

    status: str
    id: str
    event_count: int | None
    data_collections: tuple[tuple[str, int], ...]
    ts_ms: int | None
    topic: str | None = None


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """A heartbeat record (``__debezium-heartbeat.<prefix>``)."""

    ts_ms: int | None
    topic: str | None = None


@dataclass(frozen=True, slots=True)
class Tombstone:
    """A null value after a delete: the key only, so compaction can drop the row."""

    key: Any
    topic: str | None = None


DebeziumRecord = ChangeEvent | MessageEvent | TransactionEvent | Heartbeat | Tombstone


def decode(
    value: bytes | str | None, *, key: bytes | str | None = None, topic: str | None = None
) -> DebeziumRecord:
    """Decode one Kafka message; :class:`DecodeError` (with the raw bytes) when it is not one."""
    raw = value.encode() if isinstance(value, str) else value
    raw_key = key.encode() if isinstance(key, str) else key
    try:
        parsed_key = _unwrap(json.loads(raw_key))[0] if raw_key else None
        if raw is None or raw == b"":
            return Tombstone(parsed_key, topic)
        payload, schema = _unwrap(json.loads(raw))
        return _record(payload, schema, parsed_key, topic)
    except DecodeError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error) as exc:
        raise DecodeError(
            f"{type(exc).__name__}: {exc}", raw=raw, key=raw_key, topic=topic
        ) from exc


def _unwrap(doc: Any) -> tuple[Any, Mapping[str, Any] | None]:
    if isinstance(doc, dict) and set(doc) == {"schema", "payload"}:
        return doc["payload"], doc["schema"]
    return doc, None


def _record(
    payload: Any, schema: Mapping[str, Any] | None, key: Any, topic: str | None
) -> DebeziumRecord:
    if payload is None:
        return Tombstone(key, topic)
    if not isinstance(payload, dict):
        raise ValueError("the value is not a JSON object")
    op = payload.get("op")
    if op in OPS:
        fields = _field_schemas(schema)
        return ChangeEvent(
            op=op,
            before=_row(payload.get("before"), fields.get("before")),
            after=_row(payload.get("after"), fields.get("after")),
            source=Source.from_json(payload["source"]),
            ts_ms=_int(payload.get("ts_ms")),
            key=key,
            topic=topic,
            transaction=payload.get("transaction"),
        )
    if op == "m":
        message = payload["message"]
        return MessageEvent(
            prefix=str(message.get("prefix", "")),
            content=base64.b64decode(message.get("content") or ""),
            source=Source.from_json(payload["source"]),
            ts_ms=_int(payload.get("ts_ms")),
            topic=topic,
        )
    if payload.get("status") in ("BEGIN", "END") and "id" in payload:
        return TransactionEvent(
            status=str(payload["status"]),
            id=str(payload["id"]),
            event_count=_int(payload.get("event_count")),
            data_collections=tuple(
                (str(d["data_collection"]), int(d["event_count"]))
                for d in payload.get("data_collections") or []
            ),
            ts_ms=_int(payload.get("ts_ms")),
            topic=topic,
        )
    if set(payload) == {"ts_ms"} or (topic or "").startswith("__debezium-heartbeat"):
        return Heartbeat(_int(payload.get("ts_ms")), topic)
    raise ValueError(f"unknown Debezium record (op={op!r}, keys={sorted(payload)[:8]})")


def _field_schemas(schema: Mapping[str, Any] | None) -> dict[str, dict[str, Mapping[str, Any]]]:
    """For an envelope schema: ``before``/``after`` -> column -> column schema."""
    out: dict[str, dict[str, Mapping[str, Any]]] = {}
    for part in (schema or {}).get("fields", []):
        if part.get("field") in ("before", "after"):
            out[part["field"]] = {f["field"]: f for f in part.get("fields", [])}
    return out


def _row(data: Any, columns: Mapping[str, Mapping[str, Any]] | None) -> dict[str, Any] | None:
    if data is None:
        return None
    return {k: _value(v, (columns or {}).get(k)) for k, v in data.items()}


def _value(value: Any, column: Mapping[str, Any] | None) -> Any:
    if value in (PLACEHOLDER, [PLACEHOLDER]):
        return UNAVAILABLE
    if column is None or value is None:
        return value
    if column.get("type") == "bytes" and isinstance(value, str):
        if value == PLACEHOLDER_B64:
            return UNAVAILABLE
        raw = base64.b64decode(value)
        if column.get("name") == "org.apache.kafka.connect.data.Decimal":
            scale = int((column.get("parameters") or {}).get("scale", 0))
            return Decimal(int.from_bytes(raw, "big", signed=True)).scaleb(-scale)
        return raw
    return value


def _int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    return int(value)
