"""Explain why two normalised records differ, path by path (the slow path, deepdiff).

Only pairs whose digests differ get here. Differences inside a declared
tolerance are dropped again, so a pair that hashed apart only because its
values rounded to different tolerance steps still counts as a match.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from deepdiff import DeepDiff

from comparators.rules import CompareOptions, Record

# deepdiff report types -> our kinds
_KINDS = {
    "values_changed": "changed",
    "type_changes": "changed",
    "dictionary_item_added": "added",
    "dictionary_item_removed": "removed",
    "iterable_item_added": "added",
    "iterable_item_removed": "removed",
    "attribute_added": "added",
    "attribute_removed": "removed",
    "set_item_added": "added",
    "set_item_removed": "removed",
}

_ABSENT = "<absent>"


@dataclass(frozen=True, slots=True)
class Difference:
    """One differing field; ``path`` like ``payment.amount`` or ``notifications[0].recipient``."""

    path: str
    kind: str
    control: Any
    candidate: Any

    @property
    def rule_path(self) -> str:
        """The path without list indices, as rules name it (``notifications.recipient``)."""
        return ".".join(p for p in self.path.replace("[", ".[").split(".") if not p.startswith("["))

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "kind": self.kind,
            "control": self.control,
            "candidate": self.candidate,
        }


NOT_EXPLAINED = "(not explained)"
"""The path a differing key counts under once its category has had ``explain_limit`` keys
explained (:class:`comparators.rules.CompareOptions`)."""


def not_explained() -> tuple[Difference, ...]:
    """The one pseudo-difference of a key past the explain limit."""
    return (Difference(NOT_EXPLAINED, "not_explained", None, None),)


def format_path(parts: list[Any]) -> str:
    """``["notifications", 0, "recipient"]`` -> ``notifications[0].recipient``."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "<root>"


def _same(a: Any, b: Any) -> bool:
    """Equal with equal types at every level (deepdiff reports nothing between them)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(v, b[k]) for k, v in a.items())
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _differing(control: Record, candidate: Record) -> tuple[Any, Any]:
    """Both records without the top-level fields that are the same on both sides: deepdiff
    reports the same differences, at the same paths, without walking equal subtrees."""
    if not (isinstance(control, dict) and isinstance(candidate, dict)):
        return control, candidate
    return (
        {k: v for k, v in control.items() if k not in candidate or not _same(v, candidate[k])},
        {k: v for k, v in candidate.items() if k not in control or not _same(control[k], v)},
    )


def _levels(control: Record, candidate: Record) -> Iterator[tuple[str, Any]]:
    tree = DeepDiff(*_differing(control, candidate), view="tree", verbose_level=2)
    for report_type, levels in tree.items():
        for level in levels:
            yield report_type, level


def explain(control: Record, candidate: Record, options: CompareOptions) -> tuple[Difference, ...]:
    """Differences between two *normalised* records, outside tolerance, sorted by path."""
    found: list[Difference] = []
    for report_type, level in _levels(control, candidate):
        kind = _KINDS.get(report_type, report_type)
        before = _ABSENT if kind == "added" else level.t1
        after = _ABSENT if kind == "removed" else level.t2
        diff = Difference(format_path(level.path(output_format="list")), kind, before, after)
        tol = options.tolerance_for(diff.rule_path)
        if tol is not None and kind == "changed" and tol.within(before, after):
            continue
        found.append(diff)
    return tuple(sorted(found, key=lambda d: d.path))
