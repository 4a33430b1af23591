"""Callable outcome sources used by the CLI tests (``module:function`` targets)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from legacy_app.outcome import Outcome
from tests.unit.comparators.factories import T0, outcome

N = 50


def control() -> Iterator[Outcome]:
    for i in range(1, N + 1):
        yield outcome(i, at=T0 + timedelta(seconds=i))


def candidate() -> Iterator[Outcome]:
    for i in range(N, 0, -1):  # unsorted on purpose: the source sorts
        if i == 7:
            continue  # missing
        total = "23.74" if i == 3 else "23.75"
        yield outcome(
            i, total=total, source="event", at=T0 + timedelta(seconds=i, milliseconds=200)
        )


def candidate_clean() -> Iterator[Outcome]:
    for i in range(1, N + 1):
        yield outcome(i, source="event", at=T0 + timedelta(seconds=i, milliseconds=200))
