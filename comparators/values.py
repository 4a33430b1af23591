"""Value helpers shared by the rules: paths, JSON-friendly conversion, decimals, times, sorting.

All functions are pure and never mutate their input.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from uuid import UUID

import msgspec

from comparators.errors import RuleError
from comparators.fingerprint import canonical_json

# Decimal text already in canonical form: no sign on zero, no leading/trailing zeros, no exponent.
_CANONICAL = re.compile(r"-?[1-9][0-9]*(?:\.[0-9]*[1-9])?|-?0\.[0-9]*[1-9]|0")


@functools.lru_cache(maxsize=1024)
def split_path(path: str) -> tuple[str, ...]:
    """``"payment.amount"`` -> ``("payment", "amount")``; rejects empty segments."""
    parts = tuple(path.split("."))
    if not path or any(not p for p in parts):
        raise RuleError(path, "a path is dot-separated field names, e.g. payment.amount")
    return parts


def map_at(value: Any, parts: tuple[str, ...], fn: Callable[[Any], Any]) -> Any:
    """Copy of ``value`` with ``fn`` applied at ``parts`` (lists are crossed element-wise)."""
    if isinstance(value, list | tuple):
        return [map_at(v, parts, fn) for v in value]
    if not parts:
        return fn(value)
    if not isinstance(value, dict) or parts[0] not in value:
        return value
    head, rest = parts[0], parts[1:]
    out = dict(value)
    out[head] = map_at(value[head], rest, fn)
    return out


def drop_at(value: Any, parts: tuple[str, ...]) -> Any:
    """Copy of ``value`` without the field at ``parts``."""
    if isinstance(value, list | tuple):
        return [drop_at(v, parts) for v in value]
    if not isinstance(value, dict) or parts[0] not in value:
        return value
    out = dict(value)
    if len(parts) == 1:
        del out[parts[0]]
    else:
        out[parts[0]] = drop_at(value[parts[0]], parts[1:])
    return out


PLAIN: frozenset[type] = frozenset({str, int, float, bool, type(None)})


def to_jsonable(value: Any) -> Any:
    """Plain JSON types: decimals as canonical strings, times as UTC ISO 8601, tuples as lists."""
    kind = type(value)
    if kind in PLAIN:
        return value
    if kind is dict:
        return {
            (k if type(k) is str else str(k)): (
                value[k] if type(value[k]) in PLAIN else to_jsonable(value[k])
            )
            for k in sorted_keys(value)
        }
    if kind is list or kind is tuple:
        return [v if type(v) in PLAIN else to_jsonable(v) for v in value]
    return _to_jsonable_other(value)


def sorted_keys(mapping: Mapping[Any, Any]) -> list[Any]:
    """Keys in canonical order (by their text when they do not compare)."""
    try:
        return sorted(mapping)
    except TypeError:
        return sorted(mapping, key=str)


_decode = msgspec.json.Decoder().decode


class RawJson(str):
    """JSON text from the database, parsed only when a record must be looked into.

    SQL sources load ``jsonb`` columns as ``RawJson``: Postgres prints jsonb in
    one canonical form, so equal texts mean equal values and the first-level
    digest can hash the text without parsing it. Every other step parses it
    (:func:`to_jsonable`, :func:`materialise`).
    """

    __slots__ = ()

    def parse(self) -> Any:
        """The value, as ``json.loads`` gives it: msgspec's decoder (several times faster, the
        same values for valid JSON), ``json.loads`` for what msgspec refuses (lone
        surrogates, NaN, numbers beyond a float: json.loads's own results)."""
        try:
            return _decode(str(self))  # msgspec takes an exact str, not a subclass
        except msgspec.MsgspecError:
            return json.loads(self)


def materialise(record: Mapping[str, Any]) -> dict[str, Any]:
    """The record with its :class:`RawJson` fields parsed (a shallow copy)."""
    return {k: (v.parse() if type(v) is RawJson else v) for k, v in record.items()}


def _to_jsonable_other(value: Any) -> Any:
    if type(value) is RawJson:
        return to_jsonable(value.parse())
    if isinstance(value, Mapping):
        return to_jsonable(dict(value))
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return canonical_decimal(value)
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).isoformat()
    if isinstance(value, date | UUID):
        return str(value)
    return value


def parse_decimal(value: Any) -> Decimal | None:
    """A Decimal for numbers and numeric strings, ``None`` for anything else."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, Decimal):
        return value
    try:
        return Decimal(str(value)) if isinstance(value, int | float | str) else None
    except InvalidOperation:
        return None


def canonical_decimal(value: Decimal) -> str:
    """``Decimal("12.50")`` and ``Decimal("12.5")`` become ``"12.5"``; ``-0`` becomes ``"0"``."""
    text = str(value)
    if _CANONICAL.fullmatch(text):
        return text
    if not value.is_finite():
        return str(value)
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") or value.is_zero() else text


def parse_time(value: Any) -> datetime | None:
    """A UTC datetime from a datetime or ISO 8601 string, else ``None``."""
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value)
        except ValueError:
            return None
    else:
        return None
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).astimezone(UTC)


def canonical_number(value: Any) -> Any:
    if type(value) is str and _CANONICAL.fullmatch(value):
        return value
    dec = parse_decimal(value)
    return value if dec is None else canonical_decimal(dec)


def fold(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


def sort_canonical(items: list[Any]) -> list[Any]:
    """Sort by a cheap tuple key; fall back to canonical JSON when values do not compare."""
    try:
        return sorted(items, key=fast_key)
    except TypeError:
        return sorted(items, key=canonical_json)


def fast_key(item: Any) -> Any:
    if type(item) is dict:
        return (1, tuple(sorted(item.items())))
    return (0, item)
