"""JSON Schemas compiled once for fast validation on the hot path.

With ``fastjsonschema`` (generated Python) when the schema uses only keywords that library
enforces as 2020-12 does; else with ``jsonschema``'s 2020-12 validator. ``format`` is an
annotation, as in 2020-12, and defaults are never filled into the payload.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import fastjsonschema
from jsonschema import Draft202012Validator

Check = Callable[[Any], list[str]]
_NOT_FAST = frozenset(
    {
        "prefixItems",
        "unevaluatedProperties",
        "unevaluatedItems",
        "dependentRequired",
        "dependentSchemas",
        "minContains",
        "maxContains",
        "$anchor",
        "$dynamicRef",
        "$dynamicAnchor",
    }
)
_REF_SIBLINGS_OK = frozenset({"$ref", "$comment", "title", "description", "examples"})
_VALUES = frozenset({"enum", "const", "default", "examples"})


def fast_compilable(node: Any) -> bool:
    """True when ``fastjsonschema`` (draft-07 semantics) enforces ``node`` as 2020-12 does."""
    if isinstance(node, list):
        return all(fast_compilable(item) for item in node)
    if not isinstance(node, dict):
        return True
    if _NOT_FAST & node.keys() or isinstance(node.get("items"), list):
        return False
    if "$ref" in node and not node.keys() <= _REF_SIBLINGS_OK:
        return False  # draft-07 ignores the siblings of $ref; 2020-12 applies them
    return all(fast_compilable(v) for k, v in node.items() if k not in _VALUES)


def _pointer(parts: Iterable[Any]) -> str:
    return "/" + "/".join(str(p) for p in parts)


def _fast_message(exc: fastjsonschema.JsonSchemaValueException) -> str:
    if exc.rule == "required" and isinstance(exc.value, dict):
        missing = [k for k in exc.rule_definition or () if k not in exc.value]
        return f"required properties missing: {missing}"
    return exc.message.removeprefix(exc.name or "").strip()


def compile_schema(schema: Mapping[str, Any]) -> Check:
    """A function returning the violations of a payload as ``/json/path: reason`` lines."""
    if fast_compilable(schema):
        fast = fastjsonschema.compile(dict(schema), use_default=False, use_formats=False)

        def check_fast(payload: Any) -> list[str]:
            try:
                fast(payload)
            except fastjsonschema.JsonSchemaValueException as exc:
                return [f"{_pointer((exc.path or ['data'])[1:])}: {_fast_message(exc)}"]
            return []

        return check_fast
    slow = Draft202012Validator(schema)

    def check_slow(payload: Any) -> list[str]:
        errors = sorted(slow.iter_errors(payload), key=lambda e: [str(p) for p in e.path])
        return [f"{_pointer(list(e.path))}: {e.message}" for e in errors]

    return check_slow
