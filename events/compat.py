"""Schema compatibility: does a new schema version break consumers (or data) of the old one?

Each difference between two JSON Schemas is a :class:`Change` marked with what
it breaks, in Confluent Schema Registry terms:

* ``breaks_forward`` — data written with the NEW schema may fail the OLD one,
  so consumers still on the old version break (a required field removed, a type
  changed, an enum value added);
* ``breaks_backward`` — data written with the OLD schema may fail the NEW one,
  so stored/replayed old events break new consumers unless an upcaster fixes
  them (a field made required, an enum narrowed, a bound tightened).

The mode picks which count: ``full`` (the default: both), ``forward`` or
``backward``. Adding an optional field breaks nothing (unless the old schema
forbade unknown properties). Pure: works on already loaded schema mappings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

CompatMode = Literal["full", "backward", "forward"]
MODES: tuple[CompatMode, ...] = ("full", "backward", "forward")
_MIN_KEYS = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties")
_MAX_KEYS = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties")


@dataclass(frozen=True, slots=True)
class Change:
    """One difference between the old and the new schema, at a JSON path."""

    path: str
    kind: str
    detail: str
    breaks_backward: bool = False
    breaks_forward: bool = False

    def breaking(self, mode: CompatMode = "full") -> bool:
        if mode == "backward":
            return self.breaks_backward
        if mode == "forward":
            return self.breaks_forward
        return self.breaks_backward or self.breaks_forward

    def to_dict(self, mode: CompatMode = "full") -> dict[str, Any]:
        return {
            "path": self.path,
            "kind": self.kind,
            "detail": self.detail,
            "breaks_backward": self.breaks_backward,
            "breaks_forward": self.breaks_forward,
            "breaking": self.breaking(mode),
        }


@dataclass(frozen=True, slots=True)
class CompatReport:
    """Every change from ``old`` to ``new`` and the verdict under ``mode``."""

    old: str
    new: str
    mode: CompatMode
    changes: tuple[Change, ...]

    @property
    def breaking_changes(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.breaking(self.mode))

    @property
    def compatible(self) -> bool:
        return not self.breaking_changes

    def to_dict(self) -> dict[str, Any]:
        return {
            "old": self.old,
            "new": self.new,
            "mode": self.mode,
            "compatible": self.compatible,
            "changes": [c.to_dict(self.mode) for c in self.changes],
        }


def check_compat(
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    *,
    mode: CompatMode = "full",
    old_name: str = "old",
    new_name: str = "new",
) -> CompatReport:
    """Compare two JSON Schemas; see the module docstring for what counts as breaking."""
    return CompatReport(old_name, new_name, mode, tuple(diff_schemas(old, new)))


def diff_schemas(old: Mapping[str, Any], new: Mapping[str, Any], path: str = "") -> list[Change]:
    """The changes from ``old`` to ``new`` at ``path`` and below, in a stable order."""
    where = path or "/"
    changes = _type_changes(old, new, where)
    changes += _enum_changes(old, new, where)
    changes += _bound_changes(old, new, where)
    if old.get("pattern") != new.get("pattern"):
        changes.append(
            Change(
                where,
                "pattern-changed",
                f"{old.get('pattern')!r} -> {new.get('pattern')!r}",
                True,
                True,
            )
        )
    changes += _object_changes(old, new, path)
    old_items, new_items = old.get("items"), new.get("items")
    if isinstance(old_items, Mapping) and isinstance(new_items, Mapping):
        changes += diff_schemas(old_items, new_items, f"{path}/items")
    return changes


def _types(schema: Mapping[str, Any]) -> set[str] | None:
    value = schema.get("type")
    if value is None:
        return None
    found = {value} if isinstance(value, str) else set(value)
    return found | {"integer"} if "number" in found else found


def _type_changes(old: Mapping[str, Any], new: Mapping[str, Any], where: str) -> list[Change]:
    old_t, new_t = _types(old), _types(new)
    if old_t == new_t:
        return []
    forward = old_t is not None and (new_t is None or not new_t <= old_t)
    backward = new_t is not None and (old_t is None or not old_t <= new_t)
    detail = f"{old.get('type', 'any')} -> {new.get('type', 'any')}"
    return [Change(where, "type-changed", detail, backward, forward)]


def _enum_values(schema: Mapping[str, Any]) -> list[Any] | None:
    if "const" in schema:
        return [schema["const"]]
    enum = schema.get("enum")
    return list(enum) if isinstance(enum, list) else None


def _enum_changes(old: Mapping[str, Any], new: Mapping[str, Any], where: str) -> list[Change]:
    old_e, new_e = _enum_values(old), _enum_values(new)
    if old_e == new_e:
        return []
    changes: list[Change] = []
    removed = [v for v in old_e or [] if new_e is not None and v not in new_e]
    added = [v for v in new_e or [] if old_e is not None and v not in old_e]
    if old_e is None and new_e is not None:
        changes.append(Change(where, "enum-added", f"values limited to {new_e}", True, False))
    if new_e is None and old_e is not None:
        changes.append(Change(where, "enum-removed", f"any value, was {old_e}", False, True))
    if removed:
        changes.append(Change(where, "enum-narrowed", f"values removed: {removed}", True, False))
    if added:
        changes.append(Change(where, "enum-widened", f"values added: {added}", False, True))
    return changes


def _bound_changes(old: Mapping[str, Any], new: Mapping[str, Any], where: str) -> list[Change]:
    changes: list[Change] = []
    for key in (*_MIN_KEYS, *_MAX_KEYS):
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        is_min = key in _MIN_KEYS
        if before is None or after is None:
            tighter = after is not None
        else:
            tighter = after > before if is_min else after < before
        kind = "bound-tightened" if tighter else "bound-loosened"
        changes.append(Change(where, kind, f"{key}: {before} -> {after}", tighter, not tighter))
    return changes


def _object_changes(old: Mapping[str, Any], new: Mapping[str, Any], path: str) -> list[Change]:
    old_props: Mapping[str, Any] = old.get("properties") or {}
    new_props: Mapping[str, Any] = new.get("properties") or {}
    old_req, new_req = set(old.get("required") or ()), set(new.get("required") or ())
    old_closed = old.get("additionalProperties") is False
    new_closed = new.get("additionalProperties") is False
    changes: list[Change] = []
    for name in sorted(old_req - new_req):
        gone = name not in new_props
        kind = "required-field-removed" if gone else "required-field-made-optional"
        changes.append(
            Change(f"{path}/{name}", kind, "old consumers expect it", new_closed and gone, True)
        )
    for name in sorted(new_req - old_req):
        kind = "required-field-added" if name not in old_props else "field-made-required"
        changes.append(Change(f"{path}/{name}", kind, "old data may lack it", True, False))
    for name in sorted(set(new_props) - set(old_props) - new_req):
        note = "old schema forbids unknown properties" if old_closed else "optional"
        changes.append(Change(f"{path}/{name}", "optional-field-added", note, False, old_closed))
    for name in sorted(set(old_props) - set(new_props) - old_req):
        note = "new schema forbids it" if new_closed else "optional"
        changes.append(Change(f"{path}/{name}", "optional-field-removed", note, new_closed, False))
    if old_closed != new_closed:
        kind = "closed" if new_closed else "opened"
        detail = f"additionalProperties {'forbidden' if new_closed else 'allowed'}"
        changes.append(Change(path or "/", f"object-{kind}", detail, new_closed, old_closed))
    for name in sorted(set(old_props) & set(new_props)):
        o, n = old_props[name], new_props[name]
        if isinstance(o, Mapping) and isinstance(n, Mapping):
            changes += diff_schemas(o, n, f"{path}/{name}")
    return changes
