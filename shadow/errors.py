"""Errors raised by the shadow pipeline.

Poison messages are errors that keep the message they came from, so the runtime
can send the record to the dead-letter topic whole with the reason in headers.
"""

from __future__ import annotations

from typing import Literal

from cutover_common.errors import CutoverError
from cutover_common.exit_codes import ExitCode

PoisonKind = Literal["undecodable", "unknown_type", "schema_invalid", "handler_error"]


class ShadowError(CutoverError):
    """Base class of every error raised by :mod:`shadow`."""


class PoisonMessageError(ShadowError):
    """Raised when a message can never be processed; it goes to the dead-letter topic.

    ``kind`` is one of ``undecodable``, ``unknown_type``, ``schema_invalid``,
    ``handler_error``; ``reason`` is the human explanation; ``error_class`` the
    name of the underlying exception class.
    """

    def __init__(self, kind: PoisonKind, reason: str, *, error_class: str | None = None) -> None:
        super().__init__(f"poison message ({kind}): {reason}")
        self.kind: PoisonKind = kind
        self.reason = reason
        self.error_class = error_class or type(self).__name__


class TransientError(ShadowError):
    """Raised by a handler or an effect adapter when trying again later may succeed."""

    def __init__(self, message: str, *, service: str | None = None) -> None:
        super().__init__(message)
        self.service = service


class CircuitOpenError(TransientError):
    """Raised instead of calling ``service`` while its circuit breaker is open.

    The runtime pauses the affected partition rather than dead-lettering the event.
    """

    def __init__(self, service: str, retry_after: float) -> None:
        super().__init__(
            f"circuit for {service} is open; retry in {retry_after:.1f}s", service=service
        )
        self.retry_after = retry_after


class HandlerTimeout(ShadowError):
    """Raised into (or after) a handler that ran past its timeout; the runtime counts it as a
    failed attempt (retried, then dead-lettered with the reason ``timeout after <N>s``)."""

    def __init__(self, event_type: str, seconds: float) -> None:
        super().__init__(f"handler of {event_type}: timeout after {seconds:g}s")
        self.event_type = event_type
        self.seconds = seconds


class HandlerResultError(ShadowError):
    """Raised when a handler returns something other than ``None`` (a handler's writes go
    through its handle; a value it returns would be lost); retried, then dead-lettered."""

    def __init__(self, event_type: str, returned: object) -> None:
        super().__init__(
            f"handler of {event_type} returned {type(returned).__name__}; handlers return None"
        )
        self.event_type = event_type
        self.returned_type = type(returned).__name__


class DuplicateEffect(ShadowError):
    """Raised when one handler run declares the same effect name twice for one event (the
    name is part of the idempotency key, so the second call could not be told apart)."""

    def __init__(self, event_type: str, name: str) -> None:
        super().__init__(
            f"handler of {event_type} declared effect {name!r} twice for one event; "
            "give each effect of an event its own name"
        )
        self.event_type = event_type
        self.name = name


class EffectRejectedError(ShadowError):
    """Raised when a downstream service answers a call with a non-retryable error.

    ``service``, ``status`` (HTTP status) and ``body`` (a short preview) describe it.
    """

    def __init__(self, service: str, status: int, body: str) -> None:
        super().__init__(f"{service} rejected the call with HTTP {status}: {body[:200]}")
        self.service = service
        self.status = status
        self.body = body


class ShadowConfigError(ShadowError):
    """Raised when the shadow configuration is inconsistent (``field`` names the culprit)."""

    exit_code = ExitCode.INVALID_INPUT

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"invalid shadow configuration {field}: {reason}")
        self.field = field
        self.reason = reason


class KafkaOperationError(ShadowError):
    """Raised when a Kafka admin/consumer operation fails (``operation`` names it)."""

    def __init__(self, operation: str, reason: str) -> None:
        super().__init__(f"kafka {operation} failed: {reason}")
        self.operation = operation
        self.reason = reason


class DeadLetterNotFound(ShadowError):
    """Raised when no dead letter sits at ``coordinates`` (``cutover shadow dlq show``)."""

    exit_code = ExitCode.NOT_FOUND

    def __init__(self, coordinates: str, topics: list[str]) -> None:
        super().__init__(f"no dead letter at {coordinates} in {', '.join(topics) or 'no topic'}")
        self.coordinates = coordinates
        self.topics = topics


class AcknowledgementsUnavailable(ShadowError):
    """Raised when a dead-letter command must record an acknowledgement (``purge``) but no
    state store is named (``--plan`` or ``CUTOVER_STATE_URL``)."""

    exit_code = ExitCode.INVALID_INPUT

    def __init__(self, command: str) -> None:
        super().__init__(
            f"dlq {command} records an audit row in cutover's state store: pass --plan PLAN "
            "or set CUTOVER_STATE_URL"
        )
        self.command = command
