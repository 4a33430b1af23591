"""Errors raised by the sample monolith (order service, downstream services, runner)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


class LegacyAppError(Exception):
    """Base class of every error raised by :mod:`legacy_app` (the sample is an application:
    its errors are its own, not cutover's). ``hint`` optionally says how to fix the cause."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint

    def one_line(self) -> str:
        """The message and the fix on one line."""
        return f"{self} — {self.hint}" if self.hint else str(self)


class ConfigError(LegacyAppError):
    """Raised when a configuration value is missing or cannot be parsed; ``key`` names it."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"bad configuration {key}: {reason}", hint=f"set CUTOVER_{key}")
        self.key = key
        self.reason = reason


class DownstreamError(LegacyAppError):
    """Raised when a downstream call did not produce an answer the flow can use.

    ``service`` is the downstream (``inventory``, ``payment``...), ``operation``
    the call (``reserve``, ``charge``...).
    """

    def __init__(self, service: str, operation: str, reason: str) -> None:
        super().__init__(f"{service}.{operation} failed: {reason}")
        self.service = service
        self.operation = operation
        self.reason = reason


class DownstreamUnavailable(DownstreamError):
    """Raised when every bounded retry of a call timed out, failed to connect or got a 5xx."""


class CircuitOpenError(DownstreamUnavailable):
    """Raised without calling when the circuit breaker of ``service`` is open (fail fast)."""

    def __init__(self, service: str, operation: str) -> None:
        super().__init__(service, operation, "circuit open")


class DownstreamRejected(DownstreamError):
    """Raised when a downstream answered 4xx to a call (a contract error, not retried).

    ``status`` is the HTTP status code.
    """

    def __init__(self, service: str, operation: str, status: int, reason: str) -> None:
        super().__init__(service, operation, f"HTTP {status}: {reason}")
        self.status = status


class SyncCallDisabled(DownstreamError):
    """Raised when a sync call is attempted for a context in ``events-only`` mode.

    The attempt is recorded as blocked by the context's ``cutover.Migration`` (cutover's
    ``blocked_calls`` table, which the phase-5 gate counts).
    """

    def __init__(self, service: str, operation: str) -> None:
        super().__init__(service, operation, "sync calls are disabled (events-only)")


class ServiceStartError(LegacyAppError):
    """Raised when the runner cannot start ``service`` (port busy, crash at boot)."""

    def __init__(self, service: str, reason: str, log_path: str | None = None) -> None:
        hint = f"see {log_path}" if log_path else None
        super().__init__(f"cannot start {service}: {reason}", hint=hint)
        self.service = service
        self.reason = reason
        self.log_path = log_path


class InvalidRequest(LegacyAppError):
    """Raised when a request is well-formed JSON but breaks a rule (unknown SKU, unknown customer).

    ``status`` is the HTTP status to answer with; ``errors`` the reasons, one dict each
    (``loc``, ``msg``), shaped like pydantic's.
    """

    def __init__(self, status: int, errors: Sequence[Mapping[str, Any]]) -> None:
        super().__init__("; ".join(str(e.get("msg")) for e in errors) or "invalid request")
        self.status = status
        self.errors = [dict(e) for e in errors]


class OrderNotStored(LegacyAppError):
    """Raised when the transaction storing an order (and its outbox row) failed to commit."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"the order was not stored: {reason}")
        self.reason = reason
