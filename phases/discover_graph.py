"""Pure clustering of tables into bounded contexts, for ``cutover discover``.

Signals, strongest first:

* **recorded writes** (:class:`WriteGroup`: the tables one transaction or one request wrote):
  two tables are linked when at least half of the writes of the rarer one also wrote the
  other, so a rare cascade delete does not glue two contexts;
* **foreign keys**, for the tables no recorded write mentions (all of them when nothing was
  recorded), and a shared leading word (``billing_*``) between such tables;
* **hubs are shared**: a table referenced by foreign keys from most other tables (users,
  accounts, tenants), or linked by writes to most other written tables (an audit log), is
  shared by the contexts, never the glue between them, never a context of its own unless
  nothing else is left. Hubs are found by in-degree share, not by name.

Each cluster is named after its aggregate root, the table the others point to (an owned child
such as ``<root>_lines`` counts twice), singular; or after the leading word all its tables share.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import combinations

HUB_MIN_REFERRERS = 3
"""A hub is referenced by (or written with) at least this many tables ..."""
HUB_SHARE = 0.5
"""... and by more than this share of the other tables."""
LINK_SHARE = 0.5
"""Two tables are written together when this share of the rarer one's writes wrote both."""


@dataclass(frozen=True, slots=True)
class TableInfo:
    name: str
    columns: tuple[str, ...]
    references: tuple[str, ...] = ()  # tables this one has foreign keys to


@dataclass(frozen=True, slots=True)
class WriteGroup:
    """The tables one recorded transaction (or one recorded request) wrote."""

    txn: str
    tables: frozenset[str]


@dataclass(frozen=True, slots=True)
class SharedTable:
    """A hub table: shared by the contexts, listed apart in the draft."""

    name: str
    reason: str


@dataclass(frozen=True, slots=True)
class Cluster:
    """Tables proposed as one context, its aggregate root, its name and why."""

    tables: tuple[str, ...]
    root: str
    name: str
    why: tuple[str, ...]


def singular(word: str) -> str:
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith("sses"):
        return word[:-2]
    return word[:-1] if word.endswith("s") and not word.endswith("ss") else word


def lead(table: str) -> str:
    return singular(table.split("_", maxsplit=1)[0])


# ---------------------------------------------------------------- recorded writes
def write_counts(
    writes: Iterable[WriteGroup], names: set[str]
) -> tuple[Counter[str], Counter[frozenset[str]]]:
    """How often each table was written, and each pair of tables together."""
    alone: Counter[str] = Counter()
    pairs: Counter[frozenset[str]] = Counter()
    for group in writes:
        tables = sorted(group.tables & names)
        alone.update(tables)
        pairs.update(frozenset(p) for p in combinations(tables, 2))
    return alone, pairs


def write_links(writes: Sequence[WriteGroup], names: set[str]) -> dict[frozenset[str], int]:
    """Pairs written together in at least :data:`LINK_SHARE` of the rarer table's writes."""
    alone, pairs = write_counts(writes, names)
    return {pair: n for pair, n in pairs.items() if n >= LINK_SHARE * min(alone[t] for t in pair)}


# ---------------------------------------------------------------- hubs
_SHARED = ": shared by the contexts, in none of them"


def _is_hub(degree: int, others: int) -> bool:
    return degree >= HUB_MIN_REFERRERS and degree > HUB_SHARE * others


def foreign_key_hubs(tables: Sequence[TableInfo]) -> list[SharedTable]:
    """Tables referenced by foreign keys from most of the other tables."""
    names = {t.name for t in tables}
    referrers: Counter[str] = Counter()
    for t in tables:
        referrers.update(r for r in set(t.references) if r in names and r != t.name)
    return [
        SharedTable(
            n, f"referenced by foreign keys from {k} of the {len(names) - 1} other tables{_SHARED}"
        )
        for n, k in sorted(referrers.items())
        if _is_hub(k, len(names) - 1)
    ]


def write_hubs(links: Iterable[frozenset[str]], written: set[str]) -> list[SharedTable]:
    """Tables written together with most of the other written tables (an audit log)."""
    degree: Counter[str] = Counter(t for pair in links for t in pair)
    return [
        SharedTable(
            n, f"written together with {k} of the {len(written) - 1} other written tables{_SHARED}"
        )
        for n, k in sorted(degree.items())
        if _is_hub(k, len(written) - 1)
    ]


def shared_tables(tables: Sequence[TableInfo], writes: Sequence[WriteGroup]) -> list[SharedTable]:
    """Hubs by foreign keys, then by recorded writes among the rest; none if all are hubs."""
    hubs = foreign_key_hubs(tables)
    hub_names = {h.name for h in hubs}
    rest = {t.name for t in tables} - hub_names
    written = rest & {t for g in writes for t in g.tables}
    hubs += write_hubs(write_links(writes, written), written)
    if {h.name for h in hubs} >= {t.name for t in tables}:
        return []
    return sorted(hubs, key=lambda h: h.name)


# ---------------------------------------------------------------- clustering
class _Components:
    def __init__(self, names: Iterable[str]) -> None:
        self.parent = {n: n for n in names}

    def find(self, n: str) -> str:
        while self.parent[n] != n:
            self.parent[n] = self.parent[self.parent[n]]
            n = self.parent[n]
        return n

    def union(self, a: str, b: str) -> None:
        self.parent[self.find(a)] = self.find(b)

    def groups(self) -> list[list[str]]:
        by_root: dict[str, list[str]] = {}
        for n in sorted(self.parent):
            by_root.setdefault(self.find(n), []).append(n)
        return sorted(by_root.values(), key=lambda g: g[0])


def edges(tables: Sequence[TableInfo], writes: Sequence[WriteGroup]) -> list[tuple[str, str]]:
    """Write links between recorded tables; foreign keys and leading words otherwise."""
    names = {t.name for t in tables}
    recorded = names & {t for g in writes for t in g.tables}
    out: list[tuple[str, str]] = [_pair(p) for p in write_links(writes, recorded)]
    for t in tables:
        out += [(t.name, r) for r in t.references if r in names and not {t.name, r} <= recorded]
    by_lead: dict[str, list[str]] = {}
    for n in sorted(names - recorded):
        if "_" in n:
            by_lead.setdefault(lead(n), []).append(n)
    out += [(g[0], other) for g in by_lead.values() for other in g[1:]]
    return out


def _pair(pair: frozenset[str]) -> tuple[str, str]:
    a, b = sorted(pair)
    return a, b


def cluster_tables(
    tables: Sequence[TableInfo], writes: Sequence[WriteGroup] = ()
) -> list[list[str]]:
    """Tables grouped into clusters, shared (hub) tables left out."""
    shared = {h.name for h in shared_tables(tables, writes)}
    kept = [t for t in tables if t.name not in shared]
    components = _Components(t.name for t in kept)
    for a, b in edges(kept, writes):
        components.union(a, b)
    return components.groups()


# ---------------------------------------------------------------- naming
def _owns(child: str, parent: str) -> bool:
    """``order_items`` is owned by ``orders``: its name starts with the parent's."""
    return child.startswith((parent + "_", singular(parent) + "_"))


def _reach(target: str, refs: dict[str, set[str]]) -> int:
    """How many tables reach ``target`` by following foreign keys."""
    return sum(1 for start in refs if start != target and target in _reachable(start, refs))


def _reachable(start: str, refs: dict[str, set[str]]) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for r in refs[todo.pop()] - seen:
            seen.add(r)
            todo.append(r)
    return seen


def aggregate_root(group: Sequence[str], by_name: dict[str, TableInfo]) -> tuple[str, list[str]]:
    """The table the others of ``group`` point to, and the tables pointing to it."""
    refs = {t: set(by_name[t].references) & set(group) - {t} for t in group}
    referrers = {t: sorted(r for r in group if t in refs[r]) for t in group}

    def rank(t: str) -> tuple[int, int, int, str]:
        score = sum(2 if _owns(r, t) else 1 for r in referrers[t])
        return (-score, -_reach(t, refs), -len(refs[t]), t)

    root = min(group, key=rank)
    return root, referrers[root]


def context_name(group: Sequence[str], root: str) -> tuple[str, str]:
    """The leading word all the tables share, else the aggregate root, singular; and why."""
    leads = {lead(t) for t in group}
    if len(group) > 1 and len(leads) == 1:
        word = leads.pop()
        return _slug(word), f"named after the word {word!r} its tables share; aggregate root {root}"
    return _slug(singular(root)), f"named after its aggregate root {root}"


def _slug(word: str) -> str:
    name = re.sub(r"[^a-z0-9_\-]", "_", word.lower())
    return name if name[:1].isalpha() else f"t_{name}"


# ---------------------------------------------------------------- recorded SQL
_WRITE = re.compile(
    r"\b(?:insert\s+into|update(?:\s+only)?|delete\s+from|merge\s+into)\s+"
    r"((?:\"[^\"]+\"|\w+)(?:\s*\.\s*(?:\"[^\"]+\"|\w+))?)",
    re.IGNORECASE,
)


def written_tables(sql: str) -> frozenset[str]:
    """Tables a SQL text writes (INSERT, UPDATE, DELETE, MERGE), without schema or quotes."""
    names = (m.group(1).split(".")[-1].strip().strip('"') for m in _WRITE.finditer(sql))
    return frozenset(n for n in names if n.lower() != "set")  # ON CONFLICT DO UPDATE SET


def group_writes(rows: Iterable[tuple[str, frozenset[str]]]) -> list[WriteGroup]:
    """One :class:`WriteGroup` per transaction id, in first-seen order."""
    by_txn: dict[str, set[str]] = {}
    for txn, tables in rows:
        by_txn.setdefault(txn, set()).update(tables)
    return [WriteGroup(txn, frozenset(tables)) for txn, tables in by_txn.items() if tables]
