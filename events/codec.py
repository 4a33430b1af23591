"""Encoding typed payloads into envelopes and decoding envelopes back, with validation.

Decoding an old version yields the current one: the data is validated against
the schema of the version it claims, upcast step by step, validated against the
current schema, then turned into the payload class. An envelope without a
version (an outbox row has no version column) is taken to be current.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from events.catalog import get_spec, validate
from events.envelope import Envelope, HeadersIn, Payload
from events.errors import UnknownEventTypeError
from events.upcasting import DEFAULT_UPCASTERS, UpcasterRegistry


@dataclass(frozen=True, slots=True)
class Decoded:
    """A decoded event: the envelope at the current version and its typed payload."""

    envelope: Envelope
    payload: Any
    upcast_from: int | None = None

    @property
    def was_upcast(self) -> bool:
        return self.upcast_from is not None


def encode(payload: Payload, **envelope_kwargs: Any) -> Envelope:
    """Validate ``payload`` against its schema and wrap it (see :meth:`Envelope.new` for kwargs)."""
    get_spec(payload.type)
    data = payload.to_dict()
    validate(payload.type, payload.version, data)
    return Envelope.of(payload, **envelope_kwargs)


def to_current(envelope: Envelope, *, upcasters: UpcasterRegistry = DEFAULT_UPCASTERS) -> Envelope:
    """The envelope with its data validated and upcast to the current version of its type."""
    spec = get_spec(envelope.type)
    version = spec.version if envelope.version is None else envelope.version
    if version not in spec.versions:
        raise UnknownEventTypeError(envelope.type, version)
    validate(envelope.type, version, envelope.data)
    if version == spec.version:
        return (
            envelope if envelope.version == version else envelope.with_data(envelope.data, version)
        )
    data = upcasters.upcast(envelope.type, version, envelope.data, spec.version)
    validate(envelope.type, spec.version, data)
    return envelope.with_data(data, spec.version)


def decode(envelope: Envelope, *, upcasters: UpcasterRegistry = DEFAULT_UPCASTERS) -> Decoded:
    """Validate, upcast and type an envelope's data."""
    current = to_current(envelope, upcasters=upcasters)
    payload = get_spec(current.type).payload_cls.from_dict(current.data)
    original = envelope.version
    upcast_from = original if original is not None and original != current.version else None
    return Decoded(current, payload, upcast_from)


def decode_json(raw: bytes | str, *, upcasters: UpcasterRegistry = DEFAULT_UPCASTERS) -> Decoded:
    """:meth:`Envelope.from_json` then :func:`decode`."""
    return decode(Envelope.from_json(raw), upcasters=upcasters)


def decode_outbox_message(
    key: bytes | str | None,
    value: bytes | str | None,
    headers: HeadersIn,
    *,
    upcasters: UpcasterRegistry = DEFAULT_UPCASTERS,
    **kwargs: Any,
) -> Decoded:
    """:meth:`Envelope.from_outbox_message` then :func:`decode`."""
    return decode(Envelope.from_outbox_message(key, value, headers, **kwargs), upcasters=upcasters)


def decode_outbox_row(
    row: Mapping[str, Any], *, upcasters: UpcasterRegistry = DEFAULT_UPCASTERS
) -> Decoded:
    """:meth:`Envelope.from_outbox_row` then :func:`decode`."""
    return decode(Envelope.from_outbox_row(row), upcasters=upcasters)
