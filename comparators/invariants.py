"""Business invariants checked on the outcome records of each side, on top of the diff.

An invariant sees every record one side produced for one key (more than one
when an effect was applied twice) and returns ``None`` when it holds or a short
reason when it is violated. The library knows no business: the plan names each invariant
as ``"module:function"`` with that signature (the sample's live in ``legacy_app.invariants``),
or by a bare name :func:`register`-ed beforehand.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from comparators.errors import ImportTargetError, UnknownInvariantError
from comparators.rules import load_target

Records = Sequence[Mapping[str, Any]]
CheckFn = Callable[[Records], "str | None"]


@runtime_checkable
class Invariant(Protocol):
    """A named rule over the records one side produced for one key."""

    @property
    def name(self) -> str: ...

    def check(self, records: Records) -> str | None:
        """``None`` when it holds, else the reason it does not."""
        ...


@dataclass(frozen=True, slots=True)
class FunctionInvariant:
    """An invariant backed by a plain function."""

    name: str
    fn: CheckFn

    def check(self, records: Records) -> str | None:
        return self.fn(records)


@dataclass(frozen=True, slots=True)
class SqlInvariant:
    """An invariant given as a boolean SQL predicate over the columns of a side's outcome
    query (``total >= 0``), evaluated in Postgres on each side in the comparison's own pass
    (:mod:`comparators.joined`); a row for which it is not true (false or NULL) violates it."""

    name: str
    sql: str


@dataclass(frozen=True, slots=True)
class Violation:
    """An invariant that does not hold for one key on one side."""

    invariant: str
    side: str
    key: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {
            "invariant": self.invariant,
            "side": self.side,
            "key": self.key,
            "reason": self.reason,
        }


REGISTERED: dict[str, CheckFn] = {}
"""Invariants known by a bare name (:func:`register`); the plan names any other one as
``"module:function"``."""


def register(name: str, fn: CheckFn) -> None:
    """Make ``fn`` known to :func:`resolve` by the bare ``name``."""
    REGISTERED[name] = fn


def resolve(name: str) -> Invariant:
    """A registered invariant by name, or one from ``"module:function"`` (a function of the
    records, or an :class:`Invariant`)."""
    if name in REGISTERED:
        return FunctionInvariant(name, REGISTERED[name])
    if ":" not in name:
        raise UnknownInvariantError(name)
    obj = load_target(name)
    if isinstance(obj, Invariant):
        return obj
    if not callable(obj):
        raise ImportTargetError(name, "not callable")
    return FunctionInvariant(name, obj)


def resolve_all(names: Sequence[str]) -> tuple[Invariant, ...]:
    return tuple(resolve(n) for n in names)


def check_all(
    invariants: Sequence[Invariant], side: str, key: str, records: Records
) -> list[Violation]:
    """Every violation of ``invariants`` for one key on one side."""
    out: list[Violation] = []
    for inv in invariants:
        reason = inv.check(records)
        if reason is not None:
            out.append(Violation(inv.name, side, key, reason))
    return out
