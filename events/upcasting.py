"""Versioning: upcasters bring old event data forward one version at a time.

A registry maps ``(type, from_version)`` to a pure function returning the data
at ``from_version + 1``; decoding chains them until the current version, so a
consumer only ever handles the current shape (eventsourcing's upcasting idea). A
contracts directory names its upcasters in ``upcasters.toml`` (:mod:`events.registry`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from events.errors import UpcastError

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


class UpcasterRegistry:
    """``(type, from_version) -> function`` to the next version."""

    def __init__(self) -> None:
        self._steps: dict[tuple[str, int], Upcaster] = {}

    def register(self, event_type: str, from_version: int, fn: Upcaster) -> Upcaster:
        """Add the step from ``from_version`` to ``from_version + 1``; one step per pair."""
        key = (event_type, from_version)
        if key in self._steps:
            raise UpcastError(event_type, from_version, "an upcaster is already registered")
        self._steps[key] = fn
        return fn

    def upcaster(self, event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
        """Decorator form of :meth:`register`."""

        def deco(fn: Upcaster) -> Upcaster:
            return self.register(event_type, from_version, fn)

        return deco

    def has_step(self, event_type: str, from_version: int) -> bool:
        return (event_type, from_version) in self._steps

    def step(self, event_type: str, from_version: int) -> Upcaster:
        """The function from ``from_version`` to the next; raises :class:`UpcastError`."""
        try:
            return self._steps[(event_type, from_version)]
        except KeyError:
            raise UpcastError(event_type, from_version, "no upcaster registered") from None

    def steps(self) -> list[tuple[str, int]]:
        return sorted(self._steps)

    def upcast(
        self, event_type: str, version: int, data: dict[str, Any], target: int
    ) -> dict[str, Any]:
        """``data`` at ``version`` brought to ``target``; raises :class:`UpcastError`."""
        if version > target:
            raise UpcastError(event_type, version, f"newer than the current version {target}")
        current = dict(data)
        for step in range(version, target):
            fn = self._steps.get((event_type, step))
            if fn is None:
                raise UpcastError(event_type, step, "no upcaster registered")
            try:
                current = fn(dict(current))
            except (KeyError, TypeError, ValueError) as exc:
                raise UpcastError(event_type, step, f"upcaster failed: {exc!r}") from exc
        return current
