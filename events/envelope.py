"""The envelope every event and command travels in: CloudEvents attributes plus causality ids.

Three wire forms, one value:

* structured JSON (:meth:`Envelope.to_json` / :meth:`Envelope.from_json`) — the
  CloudEvents JSON format; extension attributes are spelt the CloudEvents way
  (``correlationid``, ``causationid``, ``dataversion``; the ``_`` spellings are
  accepted when reading);
* a Kafka message in the shape the Debezium Outbox Event Router produces
  (:meth:`Envelope.to_kafka_message` / :meth:`Envelope.from_outbox_message`):
  key = subject (the aggregate id), value = the data as JSON, ``id``, ``type``,
  ``correlation_id``, ``causation_id`` (and ``version``, ``aggregate_version``
  when known) as headers;
* an outbox row (:meth:`Envelope.to_outbox_row` / :meth:`Envelope.from_outbox_row`).

``version`` is the schema version of ``data``; ``None`` means the producer did
not say (an outbox row has no version column) and decoders treat it as current.

``aggregate_version`` is the position of the event in its aggregate's history
(1 for the event that created the aggregate, then 2, 3...), assigned by the
producer in the transaction that writes the event. Consumers use it to notice
gaps and reordering per aggregate. ``None`` means the producer did not say; on
the wire (header ``aggregate_version``, CloudEvents attribute
``aggregateversion``, outbox column ``aggregate_version``) it is a decimal
integer, and ``0`` (the outbox column's default for writers that do not know the
version) reads back as ``None``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol

from events.errors import EnvelopeDecodeError, OutboxMessageDecodeError
from events.routed import RoutedDecodeError, decode_routed, header_map

SPECVERSION = "1.0"
JSON_CONTENT_TYPE = "application/json"
DEFAULT_SOURCE = "/cutover"
OUTBOX_SOURCE_PREFIX = "/outbox/"

KafkaHeaders = list[tuple[str, bytes]]
HeadersIn = Mapping[str, bytes | str | None] | Iterable[tuple[str, bytes | str | None]] | None


class KafkaMessageLike(Protocol):
    """The parts of ``confluent_kafka.Message`` the decoder reads (no import of the library)."""

    def key(self) -> bytes | str | None: ...

    def value(self) -> bytes | str | None: ...

    def headers(self) -> list[tuple[str, bytes | None]] | None: ...

    def timestamp(self) -> tuple[int, int]: ...


class Payload(Protocol):
    """What an event or command payload class offers (see :class:`events.structs.Contract`)."""

    type: ClassVar[str]
    version: ClassVar[int]

    @property
    def subject(self) -> str: ...

    def to_dict(self) -> dict[str, Any]: ...


def schema_uri(event_type: str, version: int) -> str:
    """The ``dataschema`` URI naming the JSON Schema of a type and version (its ``$id``)."""
    return f"urn:cutover:schema:{event_type}:{version}"


def new_id() -> str:
    """A fresh event id (UUID4 text)."""
    return str(uuid.uuid4())


@dataclass(frozen=True, slots=True)
class Envelope:
    """One event or command with its CloudEvents context attributes."""

    id: str
    source: str
    type: str
    data: dict[str, Any] = field(hash=False)
    time: datetime | None = None
    subject: str | None = None
    version: int | None = None
    correlation_id: str | None = None
    causation_id: str | None = None
    specversion: str = SPECVERSION
    datacontenttype: str = JSON_CONTENT_TYPE
    dataschema: str | None = None
    aggregate_version: int | None = None

    # ----------------------------------------------------------------- building
    @classmethod
    def new(
        cls,
        event_type: str,
        data: Mapping[str, Any],
        *,
        source: str = DEFAULT_SOURCE,
        subject: str | None = None,
        version: int | None = 1,
        correlation_id: str | None = None,
        causation_id: str | None = None,
        caused_by: Envelope | None = None,
        id: str | None = None,
        time: datetime | None = None,
    ) -> Envelope:
        """A new envelope with a fresh id and the current time.

        ``caused_by`` copies the parent's correlation id (unless one is given)
        and makes the parent's id the causation id. Without any correlation id
        the event starts a new conversation: its correlation id is its own id.
        """
        event_id = id or new_id()
        if caused_by is not None:
            correlation_id = correlation_id or caused_by.correlation_id or caused_by.id
            causation_id = causation_id or caused_by.id
        return cls(
            id=event_id,
            source=source,
            type=event_type,
            data=dict(data),
            time=time or datetime.now(UTC),
            subject=subject,
            version=version,
            correlation_id=correlation_id or event_id,
            causation_id=causation_id,
            dataschema=schema_uri(event_type, version) if version is not None else None,
        )

    @classmethod
    def of(cls, payload: Payload, **kwargs: Any) -> Envelope:
        """Wrap a typed payload; its type, version, subject and default source fill the envelope."""
        kwargs.setdefault("subject", payload.subject)
        kwargs.setdefault("source", getattr(type(payload), "default_source", DEFAULT_SOURCE))
        return cls.new(payload.type, payload.to_dict(), version=payload.version, **kwargs)

    def with_data(self, data: Mapping[str, Any], version: int | None) -> Envelope:
        """The same envelope carrying ``data`` at ``version`` (used by upcasting)."""
        schema = schema_uri(self.type, version) if version is not None else self.dataschema
        return replace(self, data=dict(data), version=version, dataschema=schema)

    def with_aggregate_version(self, aggregate_version: int) -> Envelope:
        """The same envelope as event number ``aggregate_version`` of its aggregate."""
        if isinstance(aggregate_version, bool) or aggregate_version < 1:
            raise ValueError(f"aggregate version must be >= 1, not {aggregate_version!r}")
        return replace(self, aggregate_version=aggregate_version)

    # ----------------------------------------------------------- structured JSON
    def to_dict(self) -> dict[str, Any]:
        """CloudEvents structured-mode JSON object (absent optional attributes are omitted)."""
        out: dict[str, Any] = {
            "specversion": self.specversion,
            "id": self.id,
            "source": self.source,
            "type": self.type,
            "datacontenttype": self.datacontenttype,
        }
        optional = {
            "time": _iso(self.time) if self.time else None,
            "subject": self.subject,
            "dataschema": self.dataschema,
            "dataversion": self.version,
            "correlationid": self.correlation_id,
            "causationid": self.causation_id,
            "aggregateversion": self.aggregate_version,
        }
        out.update({k: v for k, v in optional.items() if v is not None})
        out["data"] = self.data
        return out

    def to_json(self) -> bytes:
        """UTF-8 JSON bytes, keys sorted (the same envelope always gives the same bytes)."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_dict(cls, obj: Mapping[str, Any], *, raw: object = None) -> Envelope:
        """Inverse of :meth:`to_dict`; raises :class:`EnvelopeDecodeError` keeping ``raw``."""
        raw = obj if raw is None else raw
        for name in ("id", "source", "type"):
            if not isinstance(obj.get(name), str) or not obj[name]:
                raise EnvelopeDecodeError(raw, f"attribute {name!r} missing or not a string")
        if obj.get("specversion", SPECVERSION) != SPECVERSION:
            raise EnvelopeDecodeError(raw, f"unsupported specversion {obj.get('specversion')!r}")
        data = obj.get("data", {})
        if not isinstance(data, dict):
            raise EnvelopeDecodeError(raw, "data must be a JSON object")
        try:
            version = _opt_int(_first(obj, "dataversion", "version"))
            aggregate_version = parse_aggregate_version(
                _first(obj, "aggregateversion", "aggregate_version")
            )
            time = _parse_time(obj.get("time"))
        except ValueError as exc:
            raise EnvelopeDecodeError(raw, str(exc)) from exc
        return cls(
            id=obj["id"],
            source=obj["source"],
            type=obj["type"],
            data=data,
            time=time,
            subject=_opt_str(obj.get("subject")),
            version=version,
            correlation_id=_opt_str(_first(obj, "correlationid", "correlation_id")),
            causation_id=_opt_str(_first(obj, "causationid", "causation_id")),
            specversion=SPECVERSION,
            datacontenttype=str(obj.get("datacontenttype") or JSON_CONTENT_TYPE),
            dataschema=_opt_str(obj.get("dataschema")),
            aggregate_version=aggregate_version,
        )

    @classmethod
    def from_json(cls, raw: bytes | str) -> Envelope:
        """Parse structured-mode JSON; raises :class:`EnvelopeDecodeError` keeping ``raw``."""
        try:
            obj = json.loads(raw)
        except (ValueError, TypeError) as exc:
            raise EnvelopeDecodeError(raw, f"not JSON: {exc}") from exc
        if not isinstance(obj, dict):
            raise EnvelopeDecodeError(raw, "not a JSON object")
        return cls.from_dict(obj, raw=raw)

    # ------------------------------------------------------------ Kafka / outbox
    def to_kafka_headers(self) -> KafkaHeaders:
        """The ids, type and versions as bytes headers (the outbox event router's names).

        ``aggregate_version`` is the decimal text Debezium's header converter writes
        for the outbox's integer column (``b"2"``), so both producers send the same bytes.
        """
        aggregate_version = self.aggregate_version
        pairs = [
            ("id", self.id),
            ("type", self.type),
            ("correlation_id", self.correlation_id),
            ("causation_id", self.causation_id),
            ("version", None if self.version is None else str(self.version)),
            ("aggregate_version", None if aggregate_version is None else str(aggregate_version)),
        ]
        return [(k, v.encode()) for k, v in pairs if v is not None]

    def to_kafka_message(self) -> tuple[bytes | None, bytes, KafkaHeaders]:
        """``(key, value, headers)`` shaped like the outbox event router's output."""
        key = self.subject.encode() if self.subject is not None else None
        value = json.dumps(self.data, sort_keys=True, separators=(",", ":")).encode()
        return key, value, self.to_kafka_headers()

    @classmethod
    def from_outbox_message(
        cls,
        key: bytes | str | None,
        value_bytes: bytes | str | None,
        headers: HeadersIn,
        *,
        source: str | None = None,
        time: datetime | None = None,
    ) -> Envelope:
        """Decode a Kafka message produced by the Debezium Outbox Event Router.

        Tolerates the converter variants: a plain JSON payload, a JSON string
        holding the JSON (jsonb column without ``expand.json.payload``) and the
        ``{"schema": ..., "payload": ...}`` wrapper of a schema-enabled JsonConverter.
        """
        hdrs = decode_headers(headers)

        def fail(reason: str) -> OutboxMessageDecodeError:
            return OutboxMessageDecodeError(key, value_bytes, headers, reason)

        for name in ("id", "type"):
            if not hdrs.get(name):
                raise fail(f"header {name!r} missing")
        try:
            if value_bytes is None:
                raise ValueError("value is empty (tombstone?)")
            routed = decode_routed(key, value_bytes, (), text_headers=hdrs)
            data = routed.payload
            version = _opt_int(hdrs.get("version"))
            aggregate_version = parse_aggregate_version(hdrs.get("aggregate_version"))
        except RoutedDecodeError as exc:
            raise fail(exc.reason) from exc
        except ValueError as exc:
            raise fail(str(exc)) from exc
        subject = routed.aggregate_id if key is not None else None
        return cls(
            id=hdrs["id"],
            source=source or hdrs.get("source") or DEFAULT_SOURCE,
            type=hdrs["type"],
            data=data,
            time=time,
            subject=subject,
            version=version,
            correlation_id=hdrs.get("correlation_id") or None,
            causation_id=hdrs.get("causation_id") or None,
            dataschema=schema_uri(hdrs["type"], version) if version is not None else None,
            aggregate_version=aggregate_version,
        )

    from_kafka_message = from_outbox_message

    @classmethod
    def from_confluent_message(
        cls, message: KafkaMessageLike, *, source: str | None = None
    ) -> Envelope:
        """Decode a ``confluent_kafka.Message`` (duck-typed); its timestamp fills ``time``.

        A failure raises :class:`OutboxMessageDecodeError` whose ``kafka_message``
        is the message itself, ready for the dead-letter topic.
        """
        ts_type, ts_ms = message.timestamp()
        time = (
            datetime.fromtimestamp(ts_ms / 1000, UTC) if ts_type and ts_ms and ts_ms > 0 else None
        )
        try:
            return cls.from_outbox_message(
                message.key(), message.value(), message.headers(), source=source, time=time
            )
        except OutboxMessageDecodeError as exc:
            exc.kafka_message = message
            raise

    def to_outbox_row(self, aggregatetype: str) -> dict[str, Any]:
        """Column values for an ``outbox`` insert (``created_at`` is left to the database).

        ``aggregate_version`` is ``None`` when the envelope has none: the writer must
        assign it (the legacy order service does) or leave it to the column's default.
        """
        return {
            "id": uuid.UUID(self.id),
            "aggregatetype": aggregatetype,
            "aggregateid": self.subject or "",
            "type": self.type,
            "payload": self.data,
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
            "aggregate_version": self.aggregate_version,
        }

    @classmethod
    def from_outbox_row(cls, row: Mapping[str, Any]) -> Envelope:
        """An envelope from an ``outbox`` row (a mapping of its columns)."""
        try:
            payload = row["payload"]
            data = json.loads(payload) if isinstance(payload, str | bytes) else dict(payload)
            created = row.get("created_at")
            return cls(
                id=str(row["id"]),
                source=OUTBOX_SOURCE_PREFIX + str(row["aggregatetype"]),
                type=str(row["type"]),
                data=data,
                time=_parse_time(created),
                subject=str(row["aggregateid"]),
                correlation_id=_opt_str(row.get("correlation_id")),
                causation_id=_opt_str(row.get("causation_id")),
                aggregate_version=parse_aggregate_version(row.get("aggregate_version")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise EnvelopeDecodeError(dict(row), f"bad outbox row: {exc!r}") from exc


# ---------------------------------------------------------------------- helpers
def decode_headers(headers: HeadersIn) -> dict[str, str]:
    """Kafka headers (confluent-kafka list of pairs, or a mapping) as text; last one wins."""
    return header_map(headers)


def _first(obj: Mapping[str, Any], *names: str) -> Any:
    return next((obj[n] for n in names if obj.get(n) is not None), None)


def _opt_str(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _opt_int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not str(value).isdigit():
        raise ValueError(f"version {value!r} is not a positive integer")
    return int(value)


def parse_aggregate_version(value: Any) -> int | None:
    """An aggregate version from a header, attribute or column (an int or its ASCII decimal
    text); absent, empty or ``0`` means "not versioned" (``None``).

    Raises :class:`ValueError` for anything else.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f"aggregate version (aggregate_version) {value!r} is negative")
        return value or None
    if value is None or value == "":
        return None
    text = value.decode() if isinstance(value, bytes) else value
    if not (isinstance(text, str) and text.isascii() and text.isdigit()):
        raise ValueError(
            f"aggregate version (aggregate_version) {value!r} is not a non-negative integer"
        )
    return int(text) or None


def _parse_time(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        parsed = value
    else:
        try:
            parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError as exc:
            raise ValueError(f"time {value!r} is not ISO 8601") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
