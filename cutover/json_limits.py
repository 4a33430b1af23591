"""JSON request bodies read safely: their nesting depth measured on the raw bytes, before
any parser (whose recursion a 2 KB body of 1,000 brackets exhausts).

:func:`json_depth` removes the strings (a bracket inside one does not nest) and counts the
remaining brackets in one pass, without recursion; :func:`parse_json` refuses a body deeper
than the limit with :class:`~cutover.errors.JsonTooDeep` and parses the rest.
"""

from __future__ import annotations

import json
import re
from typing import Any

from cutover.errors import JsonTooDeep

DEFAULT_MAX_DEPTH = 64
"""Nesting levels a JSON request body may have (an object or array at the top is level 1)."""

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
_OPENING = frozenset(b"[{")


def json_depth(raw: bytes, *, stop_above: int | None = None) -> int:
    """The deepest nesting of arrays and objects in the JSON text ``raw`` (0 for a scalar).

    Malformed text gets a number too (an unterminated string's brackets count): the parser
    rejects it afterwards. ``stop_above`` returns as soon as that depth is exceeded.
    """
    brackets = _STRING.sub(b"", raw).translate(None, _NOT_BRACKET)
    depth = deepest = 0
    for byte in brackets:
        if byte in _OPENING:
            depth += 1
            if depth > deepest:
                deepest = depth
                if stop_above is not None and deepest > stop_above:
                    return deepest
        else:
            depth -= 1
    return deepest


def parse_json(raw: bytes, *, max_depth: int = DEFAULT_MAX_DEPTH) -> Any:
    """``raw`` parsed, once its depth is at most ``max_depth``; :class:`JsonTooDeep` otherwise,
    ``ValueError`` (``json.JSONDecodeError``, ``UnicodeDecodeError``) when it is not JSON."""
    if json_depth(raw, stop_above=max_depth) > max_depth:
        raise JsonTooDeep(max_depth)
    return json.loads(raw)


def canonical_json(value: Any) -> bytes:
    """``value`` as canonical JSON: keys sorted, no whitespace, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
