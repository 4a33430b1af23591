"""Circuit breaker, bounded retries with idempotency keys, timeouts."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from legacy_app.circuit import CircuitBreaker
from legacy_app.errors import CircuitOpenError, DownstreamRejected, DownstreamUnavailable
from legacy_app.http import CallPolicy, HttpCaller


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_breaker_opens_after_threshold_and_fails_fast() -> None:
    clock = Clock()
    b = CircuitBreaker("payment", failure_threshold=2, reset_seconds=5, clock=clock)
    b.record_failure()
    assert b.allow() and b.state == "closed"
    b.record_failure()
    assert b.state == "open" and not b.allow()


def test_breaker_half_opens_for_one_trial_then_closes_on_success() -> None:
    clock = Clock()
    b = CircuitBreaker("payment", failure_threshold=1, reset_seconds=5, clock=clock)
    b.record_failure()
    clock.now = 5.0
    assert b.state == "half-open"
    assert b.allow() and not b.allow()
    b.record_success()
    assert b.state == "closed" and b.allow()


def test_breaker_reopens_when_the_trial_fails() -> None:
    clock = Clock()
    b = CircuitBreaker("payment", failure_threshold=1, reset_seconds=5, clock=clock)
    b.record_failure()
    clock.now = 6.0
    assert b.allow()
    b.record_failure()
    assert b.state == "open" and not b.allow()


class Resp:
    def __init__(self, status: int, body: Any) -> None:
        self.status_code = status
        self._body = body

    def json(self) -> Any:
        return self._body


class ScriptedSession:
    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.calls: list[dict[str, Any]] = []

    def post(self, url: str, **kw: Any) -> Resp:
        self.calls.append({"url": url, **kw})
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def caller(session: ScriptedSession, *, retries: int = 2, threshold: int = 10) -> HttpCaller:
    c = HttpCaller(
        "payment",
        "http://payment.test/",
        CallPolicy(connect_timeout=0.1, read_timeout=0.2, retries=retries, backoff=0.01),
        CircuitBreaker("payment", failure_threshold=threshold),
        sleep=lambda _s: None,
    )
    c._local.session = session
    return c


def call(c: HttpCaller) -> dict[str, Any]:
    return c.post(
        "charge", "/charge", {"amount": "1.00"}, idempotency_key="o1:charge", correlation_id="c1"
    )


def test_timeouts_are_retried_with_the_same_idempotency_key() -> None:
    s = ScriptedSession(requests.Timeout(), Resp(503, {}), Resp(201, {"status": "captured"}))
    assert call(caller(s)) == {"status": "captured"}
    assert len(s.calls) == 3
    assert {c["headers"]["Idempotency-Key"] for c in s.calls} == {"o1:charge"}
    assert {c["headers"]["X-Correlation-ID"] for c in s.calls} == {"c1"}
    assert s.calls[0]["timeout"] == (0.1, 0.2)
    assert s.calls[0]["url"] == "http://payment.test/charge"


def test_retries_are_bounded() -> None:
    s = ScriptedSession(*[requests.Timeout()] * 3)
    with pytest.raises(DownstreamUnavailable) as info:
        call(caller(s, retries=2))
    assert info.value.reason == "timeout" and len(s.calls) == 3


def test_a_4xx_is_not_retried() -> None:
    s = ScriptedSession(Resp(422, {"error": "invalid request"}))
    with pytest.raises(DownstreamRejected) as info:
        call(caller(s))
    assert info.value.status == 422 and len(s.calls) == 1


def test_an_open_circuit_fails_fast_without_calling() -> None:
    s = ScriptedSession(requests.ConnectionError(), requests.ConnectionError())
    c = caller(s, retries=1, threshold=2)
    with pytest.raises(DownstreamUnavailable):
        call(c)
    with pytest.raises(CircuitOpenError):
        call(c)
    assert len(s.calls) == 2
