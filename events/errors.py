"""Errors raised by the event contracts.

Decoding errors keep the raw input (like confluent-kafka's
``ValueDeserializationError(kafka_message=...)``) so a consumer can send the bad
record to the dead-letter topic whole, with the reason in headers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cutover_common.errors import CutoverError
from cutover_common.exit_codes import ExitCode


def _preview(raw: object, limit: int = 120) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes | bytearray) else repr(raw)
    return text if len(text) <= limit else text[:limit] + "…"


class EventsError(CutoverError):
    """Base class of every error raised by :mod:`events`."""


class DecodeError(EventsError):
    """Raised when input cannot be turned into an event; ``raw`` keeps the input as received."""

    def __init__(self, message: str, *, raw: object, reason: str) -> None:
        super().__init__(message)
        self.raw = raw
        self.reason = reason


class EnvelopeDecodeError(DecodeError):
    """Raised when bytes/text are not a valid structured-mode envelope (bad JSON, missing id...)."""

    def __init__(self, raw: bytes | str | object, reason: str) -> None:
        super().__init__(
            f"cannot decode envelope: {reason} (input: {_preview(raw)})", raw=raw, reason=reason
        )


class OutboxMessageDecodeError(DecodeError):
    """Raised when a Kafka message written by the outbox event router cannot be decoded.

    ``key``, ``value`` and ``headers`` are the message parts exactly as received;
    ``kafka_message`` is the whole message when it was a confluent-kafka ``Message``.
    """

    def __init__(self, key: object, value: object, headers: object, reason: str) -> None:
        super().__init__(
            f"cannot decode outbox message: {reason} (key: {_preview(key, 60)})",
            raw=value,
            reason=reason,
        )
        self.key = key
        self.value = value
        self.headers = headers
        self.kafka_message: object | None = None  # set when decoded from a confluent Message


class UnknownEventTypeError(EventsError):
    """Raised when an event/command type (or one of its versions) is not in the contracts."""

    def __init__(self, event_type: str, version: int | None = None) -> None:
        where = f"{event_type} v{version}" if version is not None else event_type
        super().__init__(f"unknown event type {where}", hint="see `cutover events list`")
        self.event_type = event_type
        self.version = version


class SchemaValidationError(DecodeError):
    """Raised when an event's data does not satisfy the JSON Schema of its type and version.

    ``errors`` lists each violation as ``path: message``; ``raw`` is the data as received.
    """

    def __init__(self, event_type: str, version: int, errors: Sequence[str], data: Any) -> None:
        summary = "; ".join(errors[:3]) + (f" (+{len(errors) - 3} more)" if len(errors) > 3 else "")
        super().__init__(
            f"{event_type} v{version} is invalid: {summary}",
            raw=data,
            reason="schema validation failed",
        )
        self.event_type = event_type
        self.version = version
        self.errors = tuple(errors)


class UpcastError(EventsError):
    """Raised when data cannot be brought from ``from_version`` to the next version of its type."""

    def __init__(self, event_type: str, from_version: int, reason: str) -> None:
        super().__init__(f"cannot upcast {event_type} v{from_version}: {reason}")
        self.event_type = event_type
        self.from_version = from_version
        self.reason = reason


class SchemaFileError(EventsError):
    """Raised when a JSON Schema file (or reference) given on the command line cannot be used."""

    exit_code = ExitCode.INVALID_INPUT

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"cannot use schema {path}: {reason}")
        self.path = path
        self.reason = reason


class ContractDirectoryInvalid(EventsError):
    """Raised when a contracts directory cannot be used: a file is not JSON, not a valid
    schema, misnamed, a version is missing or breaks the one before it, an upcaster cannot
    be imported. ``problems`` lists every :class:`~events.contract_files.ContractProblem`;
    the message is the first (``contracts/article.favorited.v2.json: ...``)."""

    exit_code = ExitCode.INVALID_INPUT

    def __init__(self, problems: Sequence[Any]) -> None:
        more = (
            f" (+{len(problems) - 1} more; see `cutover events check`)" if len(problems) > 1 else ""
        )
        super().__init__(f"{problems[0]}{more}")
        self.problems = tuple(problems)


class ContractIncompatible(EventsError):
    """Raised by ``cutover events register`` when the new version cannot read the data of the
    latest one (``--allow-breaking`` registers it anyway); ``reason`` names the change."""

    exit_code = ExitCode.CONFLICT

    def __init__(self, file: str, reason: str) -> None:
        super().__init__(f"{file}: {reason}", hint="add an upcaster or use --allow-breaking")
        self.file = file
        self.reason = reason


class ContractsNotNamed(EventsError):
    """Raised when a contracts command has no directory: no ``--contracts`` and no plan
    naming one (``contracts: {dir: ...}``)."""

    exit_code = ExitCode.INVALID_INPUT

    def __init__(self) -> None:
        super().__init__(
            "no contracts directory", hint="give --contracts DIR or a --plan with contracts.dir"
        )


class ContractDefinitionError(EventsError):
    """Raised when a contract written in Python (:mod:`events.structs`) cannot be used: not a
    ``Contract`` subclass, a routing class variable unset, a ``subject_field`` that is no
    field, two structs of one type, a recursive struct. ``name`` is the class."""

    exit_code = ExitCode.INVALID_INPUT

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"contract {name}: {reason}")
        self.name = name
        self.reason = reason


class ContractDecodeError(DecodeError):
    """Raised when data cannot be decoded into a contract struct (a missing field, a wrong
    type, a constraint); ``raw`` is the data as received."""

    def __init__(self, event_type: str, reason: str, data: object) -> None:
        super().__init__(f"cannot decode {event_type}: {reason}", raw=data, reason=reason)
        self.event_type = event_type
