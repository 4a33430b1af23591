"""External effects of handler apps: recorded or performed per event, from the event's mode.

The application stamps the context's migration mode on every outbox row (header ``mode``).
An effect of an event written in ``dual`` (or ``sync``, ``naive-dual``: the synchronous path
is authoritative) is only recorded: its request and the handler's intended result. In
``async`` and ``events-only`` it is performed, behind a circuit breaker named after the
effect, with the idempotency key ``<event id>:<effect name>``. An event without a mode takes
the worker's default. So an ``advance`` or a rollback takes effect event by event: no
worker restart, and no effect both recorded and performed.

A performed effect is remembered by the worker (a bounded memo), so a handler run again for
the same event — a retry, a batch redone after a conflict — gets the first answer instead of
calling again. Across a crash the memo is gone and the call may be made again, with the same
idempotency key: that is what the key is for.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from cutover.shadow import EffectRejected
from shadow.app_buffer import EffectRow
from shadow.breaker import CircuitBreaker
from shadow.errors import CircuitOpenError, TransientError

PERFORMED_MODES: frozenset[str] = frozenset({"async", "events-only"})
"""Modes whose events' effects are performed; every other mode's are recorded."""

MEMO_LIMIT = 100_000

Perform = Callable[[str], Any]


def performs(mode: str) -> bool:
    """Whether effects of an event written in ``mode`` are performed (else recorded)."""
    return mode in PERFORMED_MODES


class EffectRunner:
    """The breakers (one per effect name) and the memo of effects this worker performed.

    ``overrides`` (effect name -> callable) replace a handler's ``perform`` (the harness's
    ``on_effect``).
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        failure_threshold: int = 5,
        reset_seconds: float = 5.0,
        memo_limit: int = MEMO_LIMIT,
        overrides: Mapping[str, Perform] | None = None,
    ) -> None:
        self._clock = clock
        self._threshold = failure_threshold
        self._reset = reset_seconds
        self._limit = memo_limit
        self.overrides: Mapping[str, Perform] = overrides if overrides is not None else {}
        self.breakers: dict[str, CircuitBreaker] = {}
        self._memo: OrderedDict[tuple[str, str], tuple[str, Any]] = OrderedDict()
        self.calls = 0  # performs actually called (tests and metrics)

    def breaker(self, name: str) -> CircuitBreaker:
        found = self.breakers.get(name)
        if found is None:
            found = CircuitBreaker(name, self._threshold, self._reset, self._clock)
            self.breakers[name] = found
        return found

    def run(
        self,
        row: EffectRow,
        perform: Perform,
        intended: Any,
        record: Callable[[EffectRow], None],
    ) -> Any:
        """The effect's result: ``intended`` when recorded, else the (remembered) answer of
        ``perform``. ``row`` is the effect's row with its outcome still to decide; ``record``
        keeps the final row in the event's buffer."""
        if not performs(row.mode):
            record(_with(row, "recorded", intended))
            return intended
        memo_key = (row.event_id, row.name)
        known = self._memo.get(memo_key)
        if known is None:
            known = self._perform(row, perform)
        outcome, value = known
        if outcome == "rejected":
            assert isinstance(value, EffectRejected)
            record(_with(row, "rejected", {"reason": value.reason}))
            raise value
        record(_with(row, "performed", value))
        return value

    def _perform(self, row: EffectRow, perform: Perform) -> tuple[str, Any]:
        breaker = self.breaker(row.name)
        if not breaker.allow():
            raise CircuitOpenError(row.name, breaker.retry_after())
        call = self.overrides.get(row.name, perform)
        self.calls += 1
        try:
            value = call(f"{row.event_id}:{row.name}")
        except EffectRejected as exc:
            breaker.record_success()  # the service answered
            return self._remember(row, ("rejected", exc))
        except Exception as exc:
            breaker.record_failure()
            raise TransientError(
                f"effect {row.name!r} failed: {exc!r}"[:300], service=row.name
            ) from exc
        breaker.record_success()
        return self._remember(row, ("performed", value))

    def _remember(self, row: EffectRow, known: tuple[str, Any]) -> tuple[str, Any]:
        memo = self._memo
        memo[(row.event_id, row.name)] = known
        if len(memo) > self._limit:
            memo.popitem(last=False)
        return known


def pending_row(
    consumer: str,
    event_id: str,
    name: str,
    *,
    mode: str,
    request: Mapping[str, Any] | None,
    at: datetime,
) -> EffectRow:
    """An effect's row before its outcome is known."""
    return EffectRow(consumer, event_id, name, mode, "recorded", dict(request or {}), None, at)


def _with(row: EffectRow, outcome: Any, result: Any) -> EffectRow:
    return EffectRow(
        row.consumer, row.event_id, row.name, row.mode, outcome, row.request, result, row.at
    )
