"""Comparison rules: small normaliser strategies and the one options value that holds them.

A *path* names a field with dots (``payment.amount``, ``total``); when a path
crosses a list it applies to every element (``notifications.recipient``).
Every normaliser is a pure, idempotent function of a JSON-like record
(``normalise(normalise(r)) == normalise(r)``), which the property tests check.

Hashing uses one more step, :meth:`CompareOptions.quantise`: values under a
numeric tolerance are rounded to a multiple of the tolerance, so two values
whose hashes agree differ by at most the tolerance. Values within the
tolerance whose rounding falls on different sides are re-checked on the
explanation path (see :mod:`comparators.explain`), so the verdict never
depends on where a rounding boundary lies.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Protocol, runtime_checkable

from comparators.compiled import Node, build, walk
from comparators.errors import ImportTargetError, RuleError
from comparators.fingerprint import digest
from comparators.values import (
    canonical_decimal,
    canonical_number,
    drop_at,
    fold,
    map_at,
    parse_decimal,
    parse_time,
    sort_canonical,
    split_path,
    to_jsonable,
)

Record = dict[str, Any]

_UNITS = ("minute", "second", "millisecond")


@runtime_checkable
class Normaliser(Protocol):
    """A strategy that rewrites a JSON-like record into its comparable form.

    Implementations must be pure and idempotent and must not mutate their input.
    """

    @property
    def name(self) -> str:
        """Short name shown in reports."""
        ...

    def __call__(self, record: Record) -> Record:
        """Return the normalised record."""
        ...


@dataclass(frozen=True, slots=True)
class Ignore:
    """Drop the given paths (e.g. ``produced_at``, ``source``: they always differ)."""

    paths: tuple[str, ...]
    name: str = "ignore"

    def __call__(self, record: Record) -> Record:
        for path in self.paths:
            record = drop_at(record, split_path(path))
        return record


@dataclass(frozen=True, slots=True)
class DecimalCanonical:
    """Numbers at the paths become canonical decimal strings (``"12.50"`` == ``12.5``)."""

    paths: tuple[str, ...]
    name: str = "decimal"

    def __call__(self, record: Record) -> Record:
        for path in self.paths:
            record = map_at(record, split_path(path), canonical_number)
        return record


@dataclass(frozen=True, slots=True)
class TruncateTimestamps:
    """Timestamps at the paths truncated to ``unit`` (minute, second or millisecond), in UTC."""

    paths: tuple[str, ...]
    unit: str = "second"
    name: str = "truncate"

    def __post_init__(self) -> None:
        if self.unit not in _UNITS:
            raise RuleError(f"truncate:{self.unit}", f"unit must be one of {', '.join(_UNITS)}")

    def __call__(self, record: Record) -> Record:
        for path in self.paths:
            record = map_at(record, split_path(path), self.truncate_value)
        return record

    def truncate_value(self, value: Any) -> Any:
        """One timestamp truncated (non-timestamps unchanged)."""
        dt = parse_time(value)
        if dt is None:
            return value
        if self.unit == "minute":
            dt = dt.replace(second=0, microsecond=0)
        elif self.unit == "second":
            dt = dt.replace(microsecond=0)
        else:
            dt = dt.replace(microsecond=dt.microsecond // 1000 * 1000)
        return dt.isoformat()


@dataclass(frozen=True, slots=True)
class CaseInsensitive:
    """Strings at the paths compared case-insensitively (``casefold``)."""

    paths: tuple[str, ...]
    name: str = "case-insensitive"

    def __call__(self, record: Record) -> Record:
        for path in self.paths:
            record = map_at(record, split_path(path), fold)
        return record


@dataclass(frozen=True, slots=True)
class SortLists:
    """Lists at the paths sorted by their canonical JSON, so element order does not count."""

    paths: tuple[str, ...]
    name: str = "sort-lists"

    def __call__(self, record: Record) -> Record:
        for path in self.paths:
            record = _sort_at(record, split_path(path))
        return record


def _sort_at(value: Any, parts: tuple[str, ...]) -> Any:
    if isinstance(value, list | tuple):
        return [_sort_at(v, parts) for v in value]
    if not isinstance(value, dict) or parts[0] not in value:
        return value
    out = dict(value)
    inner = value[parts[0]]
    if len(parts) == 1:
        out[parts[0]] = (
            sort_canonical(list(inner))
            if isinstance(inner, list | tuple) and len(inner) > 1
            else inner
        )
    else:
        out[parts[0]] = _sort_at(inner, parts[1:])
    return out


@dataclass(frozen=True, slots=True)
class Tolerance:
    """Values at ``path`` equal when they differ by at most ``absolute`` (a Decimal)."""

    path: str
    absolute: Decimal

    def __post_init__(self) -> None:
        split_path(self.path)
        if self.absolute < 0:
            raise RuleError(f"tolerance:{self.path}", "tolerance must not be negative")

    def within(self, control: Any, candidate: Any) -> bool:
        a, b = parse_decimal(control), parse_decimal(candidate)
        return a is not None and b is not None and abs(a - b) <= self.absolute

    def quantise(self, record: Record) -> Record:
        if self.absolute == 0:
            return record
        out: Record = map_at(record, split_path(self.path), self._round)
        return out

    def _round(self, value: Any) -> Any:
        dec = parse_decimal(value)
        if dec is None or not dec.is_finite():
            return value
        steps = (dec / self.absolute).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)
        return canonical_decimal(steps * self.absolute)


@dataclass(frozen=True, slots=True)
class CompareOptions:
    """Everything that decides whether a control and a candidate record agree, and when.

    ``key`` is the business key column (the plan's ``outcome.key``; no default). ``settle``
    is the time after the control's ``produced_at`` before a key is
    judged; ``sample_limit`` caps the mismatch samples kept per category;
    ``explain_limit`` caps the keys per category explained field by field (deepdiff: the
    report's differing paths); a differing key past it still counts in its category, and
    under the path :data:`comparators.explain.NOT_EXPLAINED`.
    ``mode_field`` names the column holding the mode a key was written in (it decides
    whether the key is in scope, see :class:`comparators.diff.Scope`); ``inconclusive_field``
    the column flagging a record that shows no decision (the key is left out as
    ``inconclusive``). Neither is ever compared, so both are added to ``ignore``.
    """

    key: str
    ignore: tuple[str, ...] = ("produced_at", "source")
    decimals: tuple[str, ...] = ()
    tolerances: tuple[Tolerance, ...] = ()
    truncate: tuple[TruncateTimestamps, ...] = ()
    case_insensitive: tuple[str, ...] = ()
    unordered: tuple[str, ...] = ()
    normalisers: tuple[Normaliser, ...] = ()
    settle: timedelta = timedelta(seconds=5)
    sample_limit: int = 20
    explain_limit: int = 1000
    timeline_bucket_seconds: int = 60
    mode_field: str | None = "write_mode"
    inconclusive_field: str | None = "inconclusive"
    pipeline: tuple[Normaliser, ...] = field(init=False, repr=False, compare=False)
    _tree: Node = field(init=False, repr=False, compare=False)
    _top_ignore: frozenset[str] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for never_compared in (self.mode_field, self.inconclusive_field):
            if never_compared and never_compared not in self.ignore:
                object.__setattr__(self, "ignore", (*self.ignore, never_compared))
        decimals = tuple(dict.fromkeys((*self.decimals, *(t.path for t in self.tolerances))))
        steps: list[Normaliser] = [Ignore(self.ignore), DecimalCanonical(decimals)]
        steps.extend(self.truncate)
        if self.case_insensitive:
            steps.append(CaseInsensitive(self.case_insensitive))
        steps.extend(self.normalisers)
        steps.append(SortLists(self.unordered))
        object.__setattr__(self, "pipeline", tuple(steps))
        actions: list[tuple[str, Callable[[Any], Any]]] = [(p, canonical_number) for p in decimals]
        actions += [(p, t.truncate_value) for t in self.truncate for p in t.paths]
        actions += [(p, fold) for p in self.case_insensitive]
        object.__setattr__(self, "_tree", build(self.ignore, actions, self.unordered))
        top = all("." not in p for p in self.ignore)
        object.__setattr__(self, "_top_ignore", frozenset(self.ignore) if top else None)

    def normalise(self, record: Mapping[str, Any]) -> Record:
        """The comparable form of a record (idempotent): :attr:`pipeline` applied in order.

        The built-in steps run as one compiled pass (:mod:`comparators.compiled`);
        custom normalisers run after them, followed by list sorting again.
        """
        out: Record = walk(record, self._tree)
        if self.normalisers:
            for step in self.normalisers:
                out = step(out)
            out = self.pipeline[-1](out)
        return out

    def raw_digest(self, record: Mapping[str, Any]) -> bytes:
        """Digest of the record with only the ignored paths removed (the first, cheapest level).

        Equal raw digests mean the records are equal as JSON apart from ignored
        paths, so every rule maps them to equal normalised records; unequal ones
        go on to :meth:`normalise` (representation differences such as ``"12.50"``
        vs ``12.5`` or list order are resolved there).
        """
        if self._top_ignore is not None:
            skip = self._top_ignore
            return digest({k: v for k, v in record.items() if k not in skip})
        return digest(self.pipeline[0](dict(record)))

    def digest(self, record: Mapping[str, Any]) -> bytes:
        """Digest of the normalised record (the second level)."""
        return digest(self.normalise(record))

    def normalise_stepwise(self, record: Mapping[str, Any]) -> Record:
        """The same as :meth:`normalise`, one rule at a time (slow; the reference for tests)."""
        out: Record = to_jsonable(dict(record))
        for step in self.pipeline:
            out = step(out)
        return out

    def quantise(self, normalised: Record) -> Record:
        """Round toleranced values to their tolerance step, for hashing only."""
        for tol in self.tolerances:
            normalised = tol.quantise(normalised)
        return normalised

    def tolerance_for(self, path: str) -> Tolerance | None:
        """The tolerance declared for a dotted path (list indices removed), if any."""
        for tol in self.tolerances:
            if tol.path == path:
                return tol
        return None


def load_target(target: str) -> Any:
    """Import ``"package.module:attribute"`` (dots allowed in the attribute)."""
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise ImportTargetError(target, "expected 'module:attribute'")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ImportTargetError(target, str(exc)) from exc
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ImportTargetError(target, f"{module_name} has no attribute {attr}")
        obj = getattr(obj, part)
    return obj


def load_normaliser(target: str) -> Normaliser:
    """A custom normaliser from ``"module:attr"``: an instance, or a class/factory without args."""
    obj = load_target(target)
    if isinstance(obj, type) or (callable(obj) and not isinstance(obj, Normaliser)):
        obj = obj()
    if not isinstance(obj, Normaliser):
        raise ImportTargetError(target, "not a Normaliser (needs .name and __call__(record))")
    return obj
