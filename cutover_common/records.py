"""``@record``: an immutable value class for the type checker, a cheap one at run time.

A ``@dataclass(frozen=True)`` pays for its immutability on every construction (each field is
set through ``object.__setattr__``, about 1.4 µs for seven fields). The shadow pipeline builds
a few dozen value objects per event, so that tax alone was a sixth of its time per event.
``@record`` declares the class frozen to mypy (``dataclass_transform(frozen_default=True)``:
assigning a field is a type error) and builds a plain slotted dataclass at run time, hashed
by value like a frozen one (``unsafe_hash``). Use it for hot-path values only; contracts that
promise run-time immutability (``events``) keep ``frozen=True``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar, dataclass_transform

T = TypeVar("T")


@dataclass_transform(frozen_default=True)
def record(cls: type[T]) -> type[T]:
    """Turn ``cls`` into a slotted dataclass, frozen for the type checker (see the module)."""
    return dataclass(slots=True, unsafe_hash=True)(cls)
