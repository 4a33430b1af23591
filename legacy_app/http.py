"""Synchronous HTTP calls to the downstream services: timeouts, bounded retries, breaker.

Every call carries an ``Idempotency-Key`` (the downstream dedupes on it, so a
retried charge is applied once) and the request's ``X-Correlation-ID``.
Timeouts, connection errors and 5xx answers are retried (bounded, with
backoff) and count as failures for the service's circuit breaker; a 4xx is a
contract error and is not retried. ``requests`` exceptions are translated in
one place (:func:`_map_requests_errors`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import requests
import structlog

from legacy_app.circuit import CircuitBreaker
from legacy_app.config import AppConfig
from legacy_app.errors import (
    CircuitOpenError,
    DownstreamRejected,
    DownstreamUnavailable,
)

log = structlog.get_logger(__name__)

CORRELATION_HEADER = "X-Correlation-ID"
IDEMPOTENCY_HEADER = "Idempotency-Key"


@dataclass(frozen=True, slots=True)
class CallPolicy:
    """Timeouts and retries of downstream calls."""

    connect_timeout: float = 0.5
    read_timeout: float = 2.0
    retries: int = 2
    backoff: float = 0.05

    @classmethod
    def from_config(cls, config: AppConfig) -> CallPolicy:
        return cls(
            config.http_connect_timeout,
            config.http_read_timeout,
            config.http_retries,
            config.http_retry_backoff,
        )


class _Retryable(Exception):
    """Internal: this attempt failed in a way worth retrying."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@contextmanager
def _map_requests_errors() -> Iterator[None]:
    try:
        yield
    except requests.Timeout as exc:
        raise _Retryable("timeout") from exc
    except requests.ConnectionError as exc:
        raise _Retryable("connection error") from exc
    except requests.RequestException as exc:
        raise _Retryable(f"request error: {type(exc).__name__}") from exc


class HttpCaller:
    """Posts JSON to one downstream service with the policy and that service's breaker."""

    def __init__(
        self,
        service: str,
        base_url: str,
        policy: CallPolicy,
        breaker: CircuitBreaker,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.service = service
        self.base_url = base_url.rstrip("/")
        self.policy = policy
        self.breaker = breaker
        self._sleep = sleep
        self._local = threading.local()

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            self._local.session = session
        return session

    def post(
        self,
        operation: str,
        path: str,
        body: dict[str, Any],
        *,
        idempotency_key: str,
        correlation_id: str,
    ) -> dict[str, Any]:
        """POST ``body`` to ``path``; the JSON answer, or a :class:`DownstreamError`."""
        headers = {IDEMPOTENCY_HEADER: idempotency_key, CORRELATION_HEADER: correlation_id}
        last_reason = "no attempt"
        for attempt in range(self.policy.retries + 1):
            if not self.breaker.allow():
                raise CircuitOpenError(self.service, operation)
            try:
                answer = self._attempt(operation, path, body, headers)
            except _Retryable as exc:
                self.breaker.record_failure()
                last_reason = exc.reason
                log.warning(
                    "downstream_retry",
                    service=self.service,
                    operation=operation,
                    attempt=attempt + 1,
                    reason=exc.reason,
                    correlation_id=correlation_id,
                )
                if attempt < self.policy.retries:
                    self._sleep(self.policy.backoff * (2**attempt))
                continue
            self.breaker.record_success()
            return answer
        raise DownstreamUnavailable(self.service, operation, last_reason)

    def _attempt(
        self, operation: str, path: str, body: dict[str, Any], headers: dict[str, str]
    ) -> dict[str, Any]:
        timeout = (self.policy.connect_timeout, self.policy.read_timeout)
        with _map_requests_errors():
            resp = self._session().post(
                f"{self.base_url}{path}", json=body, headers=headers, timeout=timeout
            )
        if resp.status_code >= 500:
            raise _Retryable(f"HTTP {resp.status_code}")
        try:
            data = resp.json()
        except ValueError as exc:
            raise _Retryable("answer is not JSON") from exc
        if resp.status_code >= 400:
            reason = data.get("error", "rejected") if isinstance(data, dict) else "rejected"
            raise DownstreamRejected(self.service, operation, resp.status_code, str(reason))
        if not isinstance(data, dict):
            raise _Retryable("answer is not a JSON object")
        return data
