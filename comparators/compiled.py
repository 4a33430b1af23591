"""The built-in path rules compiled into one walk over a record (the hot path).

Applying each rule in turn copies the record once per rule; this module
builds a tree of the rule paths once per :class:`~comparators.rules.CompareOptions`
and converts, drops, rewrites and sorts in a single pass. It gives the same
result as applying ``Ignore``, ``DecimalCanonical``, ``TruncateTimestamps``,
``CaseInsensitive`` and ``SortLists`` one after the other (a unit test checks it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from comparators.values import PLAIN, RawJson, sort_canonical, sorted_keys, split_path, to_jsonable

Action = Callable[[Any], Any]


@dataclass(slots=True)
class Node:
    """Rules at one path: child keys to drop, value rewrites, whether its list is unordered."""

    drop: set[str] = field(default_factory=set)
    children: dict[str, Node] = field(default_factory=dict)
    actions: list[Action] = field(default_factory=list)
    sort: bool = False

    def at(self, parts: tuple[str, ...]) -> Node:
        node = self
        for part in parts:
            node = node.children.setdefault(part, Node())
        return node


def build(
    ignore: Iterable[str], actions: Iterable[tuple[str, Action]], unordered: Iterable[str]
) -> Node:
    """The rule tree: ``actions`` are applied in the given order at each path."""
    root = Node()
    for path in ignore:
        parts = split_path(path)
        root.at(parts[:-1]).drop.add(parts[-1])
    for path, action in actions:
        root.at(split_path(path)).actions.append(action)
    for path in unordered:
        root.at(split_path(path)).sort = True
    return root


def walk(value: Any, node: Node, in_list: bool = False) -> Any:
    """A JSON-friendly copy of ``value`` with the rules of ``node`` applied."""
    kind = type(value)
    if kind is RawJson:
        value = value.parse()
        kind = type(value)
    if kind is dict or (kind not in PLAIN and isinstance(value, Mapping)):
        out: dict[str, Any] = {}
        drop, children = node.drop, node.children
        for k in sorted_keys(value):
            v = value[k]
            name = k if type(k) is str else str(k)
            if name in drop:
                continue
            child = children.get(name)
            if child is None:
                out[name] = v if type(v) in PLAIN else to_jsonable(v)
            else:
                out[name] = walk(v, child)
        return out
    if kind is list or kind is tuple:
        items = [walk(v, node, True) for v in value]
        if node.sort and not in_list and len(items) > 1:
            items = sort_canonical(items)
        return items
    result = value if kind in PLAIN else to_jsonable(value)
    for action in node.actions:
        result = action(result)
    return result
