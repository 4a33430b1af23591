"""Phase 1 discovery: propose bounded contexts from tables, foreign keys, recorded writes and
recorded calls.

Pure: it takes :class:`TableInfo` (from SQLAlchemy reflection), :class:`WriteGroup` (recorded
transactions, optional) and :class:`RecordedCall` (a JSONL file of outbound HTTP calls) and
returns a :class:`Proposal`; the I/O lives in :mod:`phases.discover_command`, the plan draft in
:mod:`phases.discover_draft`. Tables are clustered by :mod:`phases.discover_graph` (written
together, foreign keys otherwise; hub tables shared; contexts named after their aggregate
root). Then, each leaving evidence:

* a cluster holding more than half of the schema's tables is proposed with low confidence;
* each outbound host:port is a synchronous service; it maps to the context whose table
  words match its path words (``/shipments`` -> ``shipments``); when exactly one
  service and one context are left unmatched they are paired, with low confidence;
* event types come from the POST paths (``/reserve`` -> ``inventory.reserved``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from phases.discover_graph import (
    SharedTable,
    TableInfo,
    WriteGroup,
    aggregate_root,
    cluster_tables,
    context_name,
    shared_tables,
    singular,
    write_links,
)

__all__ = [
    "ContextProposal",
    "Proposal",
    "RecordedCall",
    "ServiceEndpoints",
    "SharedTable",
    "TableInfo",
    "WriteGroup",
    "cluster_tables",
    "event_types",
    "group_calls",
    "propose",
    "singular",
]

INFRA_TABLES = {
    "outbox",
    "debezium_heartbeat",
    "sync_verify_results",
    "sync_call_attempts",
    "alembic_version",
}
INFRA_PREFIXES = ("cutover_", "shadow_", "pg_")
DOMINANT_MIN_TABLES = 3
"""A cluster of at least this many tables holding more than half of the schema is suspect."""


@dataclass(frozen=True, slots=True)
class RecordedCall:
    method: str
    url: str
    correlation_id: str | None
    duration_ms: float | None


@dataclass(frozen=True, slots=True)
class ServiceEndpoints:
    """Calls to one host:port, grouped by path."""

    base: str
    paths: tuple[str, ...]
    calls: int
    correlations: int
    p95_ms: float | None


@dataclass
class ContextProposal:
    name: str
    tables: list[str]
    endpoints: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    key: str = "id"
    evidence: list[str] = field(default_factory=list)
    confidence: str = "high"
    root: str = ""


@dataclass
class Proposal:
    contexts: list[ContextProposal]
    unmatched_services: list[ServiceEndpoints]
    ignored_tables: list[str]
    shared: list[SharedTable] = field(default_factory=list)

    @property
    def shared_tables(self) -> list[str]:
        """Names of the hub tables every context shares (in no context)."""
        return [s.name for s in self.shared]


def _stem(word: str) -> str:
    return singular(word.lower())[:5]


def group_calls(calls: Iterable[RecordedCall]) -> list[ServiceEndpoints]:
    by_base: dict[str, list[RecordedCall]] = defaultdict(list)
    for c in calls:
        parts = urlsplit(c.url)
        by_base[f"{parts.scheme}://{parts.netloc.split('@')[-1]}"].append(c)
    out = []
    for base, group in sorted(by_base.items()):
        paths = sorted({urlsplit(c.url).path or "/" for c in group})
        durations = sorted(c.duration_ms for c in group if c.duration_ms is not None)
        p95 = durations[int(0.95 * (len(durations) - 1))] if durations else None
        correlations = len({c.correlation_id for c in group if c.correlation_id})
        out.append(ServiceEndpoints(base, tuple(paths), len(group), correlations, p95))
    return out


def _path_words(paths: Iterable[str]) -> set[str]:
    return {_stem(w) for p in paths for w in p.strip("/").split("/") if w and w != "verify"}


def event_types(context: str, methods_paths: Iterable[str]) -> list[str]:
    """``/reserve`` -> ``<context>.reserved``; ``/shipments`` -> ``<context>.created``."""
    events = []
    for path in methods_paths:
        words = [w for w in path.strip("/").split("/") if w and w != "verify"]
        if not words:
            continue
        word = words[-1].lower()
        if word.endswith("s"):
            past = "created"
        elif word.endswith("e"):
            past = word + "d"
        else:
            past = word + "ed"
        events.append(f"{context}.{past}")
    return sorted(dict.fromkeys(events)) or [f"{context}.created"]


def propose(
    tables: Sequence[TableInfo], calls: Sequence[RecordedCall], writes: Sequence[WriteGroup] = ()
) -> Proposal:
    """Cluster the tables into contexts and attach the services that match them."""
    ignored = sorted(t.name for t in tables if _is_infra(t.name))
    domain = [t for t in tables if not _is_infra(t.name)]
    contexts = _contexts(domain, writes)
    unmatched = _attach_services(group_calls(calls), contexts)
    for c in contexts:
        if not c.events:
            c.events = [f"{c.name}.created"]
    return Proposal(contexts, unmatched, ignored, shared_tables(domain, writes))


def _contexts(domain: Sequence[TableInfo], writes: Sequence[WriteGroup]) -> list[ContextProposal]:
    by_name = {t.name: t for t in domain}
    links = write_links(writes, set(by_name))
    contexts: list[ContextProposal] = []
    for group in cluster_tables(domain, writes):
        ctx = _context(group, by_name, links, taken={c.name for c in contexts})
        _flag_dominant(ctx, len(domain))
        contexts.append(ctx)
    return contexts


def _attach_services(
    services: list[ServiceEndpoints], contexts: list[ContextProposal]
) -> list[ServiceEndpoints]:
    """Attach services to contexts by path words; pair the last one left; return the rest."""
    unmatched = [s for s in services if not _attach_by_words(s, contexts)]
    lonely = [c for c in contexts if not c.endpoints]
    if len(lonely) > 1:  # the largest cluster is the caller (the monolith's core), not a callee
        caller = max(lonely, key=lambda c: (len(c.tables), c.name))
        lonely = [c for c in lonely if c is not caller]
    if len(unmatched) == 1 and len(lonely) == 1:
        _attach(
            unmatched[0],
            lonely[0],
            "the only unmatched service paired with the only callee context without one "
            "(review this)",
        )
        lonely[0].confidence = "low"
        return []
    return unmatched


def _is_infra(name: str) -> bool:
    return name in INFRA_TABLES or name.startswith(INFRA_PREFIXES)


def _context(
    group: list[str],
    by_name: dict[str, TableInfo],
    links: dict[frozenset[str], int],
    taken: set[str],
) -> ContextProposal:
    root, referrers = aggregate_root(group, by_name)
    name, named = context_name(group, root)
    while name in taken:
        name += "_2"
    evidence = [*_formation(group, by_name, links), named + _pointed_by(referrers)]
    return ContextProposal(
        name, group, key=_key(group, root, by_name), evidence=evidence, root=root
    )


def _formation(
    group: list[str], by_name: dict[str, TableInfo], links: dict[frozenset[str], int]
) -> list[str]:
    """Why these tables are together: written together, foreign keys, or a shared word."""
    members = set(group)
    written = sorted(f"{'+'.join(sorted(p))} ({n}x)" for p, n in links.items() if p <= members)
    fks = [f"{t}->{r}" for t in group for r in by_name[t].references if r in members and r != t]
    how = [
        *([f"written together: {', '.join(written)}"] if written else []),
        *([f"joined by foreign keys {', '.join(fks)}"] if fks else []),
    ]
    if not how:
        how = ["a table of its own" if len(group) == 1 else "table names share a leading word"]
    return [f"tables {', '.join(group)}: {'; '.join(how)}"]


def _pointed_by(referrers: list[str]) -> str:
    return f" (referenced by {', '.join(referrers)})" if referrers else ""


def _key(group: list[str], root: str, by_name: dict[str, TableInfo]) -> str:
    """``<root>_id`` when a table of the cluster has that column (the children's link)."""
    candidate = f"{singular(root.rsplit('_', maxsplit=1)[-1])}_id"
    columns = {c for t in group for c in by_name[t].columns}
    return candidate if candidate in columns else "id"


def _flag_dominant(ctx: ContextProposal, total: int) -> None:
    """Low confidence for a cluster holding more than half of the schema's tables."""
    if len(ctx.tables) >= DOMINANT_MIN_TABLES and 2 * len(ctx.tables) > total:
        ctx.confidence = "low"
        ctx.evidence.append(
            f"holds {len(ctx.tables)} of {total} tables, more than half of the schema in one "
            "context: split it by hand, or record writes (--recorded) to see what is written apart"
        )


def _attach_by_words(service: ServiceEndpoints, contexts: list[ContextProposal]) -> bool:
    words = _path_words(service.paths)
    scores = []
    for c in contexts:
        table_words = {_stem(w) for t in c.tables for w in t.split("_")}
        overlap = words & table_words
        if overlap:
            scores.append((len(overlap), c, overlap))
    if not scores:
        return False
    scores.sort(key=lambda s: -s[0])
    _count, best, overlap = scores[0]
    _attach(service, best, f"path words ({', '.join(sorted(overlap))}) match table names")
    return True


def _attach(service: ServiceEndpoints, ctx: ContextProposal, why: str) -> None:
    ctx.endpoints.extend(f"{service.base}{p}" for p in service.paths if "verify" not in p)
    ctx.events = event_types(ctx.name, service.paths)
    ctx.evidence.append(
        f"{service.base}: {service.calls} calls over {service.correlations} correlation ids "
        f"(p95 {service.p95_ms} ms), paths {', '.join(service.paths)}; {why}"
    )
