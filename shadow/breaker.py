"""A small circuit breaker (closed -> open -> half-open) with an injectable clock."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

State = Literal["closed", "open", "half_open"]


@dataclass(slots=True)
class CircuitBreaker:
    """Opens after ``failure_threshold`` consecutive failures; lets one probe through after
    ``reset_seconds``; a successful probe closes it again."""

    name: str
    failure_threshold: int = 5
    reset_seconds: float = 5.0
    clock: Callable[[], float] = time.monotonic
    _failures: int = field(default=0, init=False)
    _opened_at: float | None = field(default=None, init=False)

    @property
    def state(self) -> State:
        if self._opened_at is None:
            return "closed"
        return "half_open" if self.clock() - self._opened_at >= self.reset_seconds else "open"

    def allow(self) -> bool:
        """True when a call may go through now (closed, or half-open probe)."""
        return self.state != "open"

    def retry_after(self) -> float:
        """Seconds until the next probe is allowed (0 when calls may go through)."""
        if self._opened_at is None:
            return 0.0
        return max(0.0, self.reset_seconds - (self.clock() - self._opened_at))

    def record_success(self) -> None:
        self._failures = 0
        self._opened_at = None

    def record_failure(self) -> None:
        self._failures += 1
        if self._opened_at is not None or self._failures >= self.failure_threshold:
            self._opened_at = self.clock()
