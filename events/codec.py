"""Encoding typed payloads into envelopes and decoding envelopes back, against a registry.

Every function takes the :class:`~events.registry.Contracts` to judge by (a team's
contracts directory). Decoding an old version yields the current one: the data is
validated against the schema of the version it claims, upcast, validated against the
latest schema, then — when the caller names the contract structs (:mod:`events.structs`)
— turned into the struct of its type. An envelope without a version (an outbox row has no
version column) is taken to be current.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from events.envelope import Envelope, HeadersIn, Payload
from events.errors import UnknownEventTypeError
from events.registry import Contracts
from events.structs import Contract, check_contract
from events.structs import decode as decode_struct


@dataclass(frozen=True, slots=True)
class Decoded:
    """A decoded event: the envelope at the current version and its payload (the struct of
    its type when one was named, else the data)."""

    envelope: Envelope
    payload: Any
    upcast_from: int | None = None

    @property
    def was_upcast(self) -> bool:
        return self.upcast_from is not None


def encode(payload: Payload, contracts: Contracts, **envelope_kwargs: Any) -> Envelope:
    """Validate ``payload`` against its schema and wrap it (see :meth:`Envelope.new` for kwargs)."""
    contracts.validate(payload.type, payload.to_dict(), payload.version)
    return Envelope.of(payload, **envelope_kwargs)


def to_current(envelope: Envelope, contracts: Contracts) -> Envelope:
    """The envelope with its data validated and upcast to the latest version of its type."""
    latest = contracts.latest(envelope.type)
    version = latest if envelope.version is None else envelope.version
    if version not in contracts.versions(envelope.type):
        raise UnknownEventTypeError(envelope.type, version)
    contracts.validate(envelope.type, envelope.data, version)
    if version == latest:
        return (
            envelope if envelope.version == version else envelope.with_data(envelope.data, version)
        )
    data = contracts.upcast(envelope.type, version, envelope.data)
    contracts.validate(envelope.type, data, latest)
    return envelope.with_data(data, latest)


def decode(
    envelope: Envelope, contracts: Contracts, structs: Iterable[type[Contract]] = ()
) -> Decoded:
    """Validate and upcast an envelope's data; typed by its struct among ``structs``."""
    current = to_current(envelope, contracts)
    by_type = {cls.type: cls for cls in map(check_contract, structs)}
    cls = by_type.get(current.type)
    payload = current.data if cls is None else decode_struct(cls, current.data)
    original = envelope.version
    upcast_from = original if original is not None and original != current.version else None
    return Decoded(current, payload, upcast_from)


def decode_json(
    raw: bytes | str, contracts: Contracts, structs: Iterable[type[Contract]] = ()
) -> Decoded:
    """:meth:`Envelope.from_json` then :func:`decode`."""
    return decode(Envelope.from_json(raw), contracts, structs)


def decode_outbox_message(
    key: bytes | str | None,
    value: bytes | str | None,
    headers: HeadersIn,
    contracts: Contracts,
    structs: Iterable[type[Contract]] = (),
    **kwargs: Any,
) -> Decoded:
    """:meth:`Envelope.from_outbox_message` then :func:`decode`."""
    envelope = Envelope.from_outbox_message(key, value, headers, **kwargs)
    return decode(envelope, contracts, structs)


def decode_outbox_row(
    row: Mapping[str, Any], contracts: Contracts, structs: Iterable[type[Contract]] = ()
) -> Decoded:
    """:meth:`Envelope.from_outbox_row` then :func:`decode`."""
    return decode(Envelope.from_outbox_row(row), contracts, structs)
