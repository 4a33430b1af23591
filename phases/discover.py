"""Phase 1 discovery: propose bounded contexts from tables, foreign keys and recorded calls.

Pure: it takes :class:`TableInfo` (from SQLAlchemy reflection) and :class:`RecordedCall`
(from a JSONL file of outbound HTTP calls) and returns a :class:`Proposal`; the I/O lives
in :mod:`phases.discover_command`. Heuristics, each leaving evidence:

* tables connected by foreign keys belong together (connected components);
* components whose table names share a leading word (``inventory_*``) are merged;
* a context is named after the most common leading word of its tables, singular;
* each outbound host:port is a synchronous service; it maps to the context whose table
  words match its path words (``/shipments`` -> ``shipments``); when exactly one
  service and one context are left unmatched they are paired, with low confidence;
* event types come from the POST paths (``/reserve`` -> ``inventory.reserved``).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

INFRA_TABLES = {
    "outbox",
    "debezium_heartbeat",
    "sync_verify_results",
    "sync_call_attempts",
    "alembic_version",
}
INFRA_PREFIXES = ("cutover_", "shadow_", "pg_")


@dataclass(frozen=True, slots=True)
class TableInfo:
    name: str
    columns: tuple[str, ...]
    references: tuple[str, ...] = ()  # tables this one has foreign keys to


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


@dataclass
class Proposal:
    contexts: list[ContextProposal]
    unmatched_services: list[ServiceEndpoints]
    ignored_tables: list[str]


def singular(word: str) -> str:
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith("sses"):
        return word[:-2]
    return word[:-1] if word.endswith("s") and not word.endswith("ss") else word


def _lead(table: str) -> str:
    return singular(table.split("_", maxsplit=1)[0])


def _stem(word: str) -> str:
    return singular(word.lower())[:5]


def cluster_tables(tables: Sequence[TableInfo]) -> list[list[str]]:
    """Connected components by foreign key, then merged by shared leading word."""
    names = {t.name for t in tables}
    parent = {n: n for n in names}

    def find(n: str) -> str:
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    def union(a: str, b: str) -> None:
        parent[find(a)] = find(b)

    for t in tables:
        for ref in t.references:
            if ref in names:
                union(t.name, ref)
    by_lead: dict[str, list[str]] = defaultdict(list)
    for n in names:
        if "_" in n:
            by_lead[_lead(n)].append(n)
    for group in by_lead.values():
        for other in group[1:]:
            union(group[0], other)
    groups: dict[str, list[str]] = defaultdict(list)
    for n in sorted(names):
        groups[find(n)].append(n)
    return sorted(groups.values(), key=lambda g: g[0])


def name_cluster(tables: Sequence[str], outgoing: dict[str, int] | None = None) -> str:
    """The most common leading word; ties go to tables holding foreign keys (the aggregate
    that references reference data, e.g. ``orders`` over ``customers``)."""
    counts = Counter(_lead(t) for t in tables)
    refs: Counter[str] = Counter()
    for t in tables:
        refs[_lead(t)] += (outgoing or {}).get(t, 0)
    return sorted(counts, key=lambda w: (-counts[w], -refs[w], w))[0]


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


def propose(tables: Sequence[TableInfo], calls: Sequence[RecordedCall]) -> Proposal:
    """Cluster the tables into contexts and attach the services that match them."""
    ignored = sorted(t.name for t in tables if _is_infra(t.name))
    domain = [t for t in tables if not _is_infra(t.name)]
    by_name = {t.name: t for t in domain}
    contexts = [_context(group, by_name) for group in cluster_tables(domain)]
    services = group_calls(calls)
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
        unmatched = []
    for c in contexts:
        if not c.events:
            c.events = [f"{c.name}.created"]
    return Proposal(contexts, unmatched, ignored)


def _is_infra(name: str) -> bool:
    return name in INFRA_TABLES or name.startswith(INFRA_PREFIXES)


def _context(group: list[str], by_name: dict[str, TableInfo]) -> ContextProposal:
    name = name_cluster(group, {t: len(by_name[t].references) for t in group})
    edges = [f"{t}->{r}" for t in group for r in by_name[t].references if r in group]
    evidence = [
        f"tables {', '.join(group)} "
        + (f"joined by foreign keys {', '.join(edges)}" if edges else "share no foreign key")
    ]
    leads = sorted({_lead(t) for t in group})
    if len(group) > 1 and len(leads) == 1:
        evidence.append(f"table names share the word {leads[0]!r}")
    columns = {c for t in group for c in by_name[t].columns}
    key = "order_id" if "order_id" in columns else "id"
    return ContextProposal(name, group, key=key, evidence=evidence)


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


def draft_plan(
    proposal: Proposal, *, url_env: str, bootstrap: str, connect_url: str
) -> dict[str, Any]:
    """A plan mapping (valid against the schema) with an ``evidence:`` section."""
    contexts: dict[str, Any] = {}
    for c in proposal.contexts:
        entry: dict[str, Any] = {
            "tables": c.tables,
            "aggregate": c.name,
            "topic": {"name": f"outbox.event.{c.name}", "partitions": 6, "retention_ms": 604800000},
            "events": c.events,
            "compare": {"ignore": ["produced_at"], "settle_seconds": 5},
        }
        if c.endpoints:
            entry["sync_endpoints"] = c.endpoints
        contexts[c.name] = entry
    return {
        "version": 1,
        "system": {
            "database": {"url_env": url_env},
            "kafka": {"bootstrap_servers": bootstrap},
            "connect": {"url": connect_url, "auth_env": "CONNECT_AUTH"},
        },
        "contexts": contexts,
        "gates": {
            "broker": {"max_canary_ms": 10000},
            "dual_write": {
                "min_settled_keys": 1000,
                "min_match_rate": 0.999,
                "max_lag_ms": 2000,
                "max_dead_lettered": 0,
                "on_fail": "revert",
            },
            "async": {"min_settled_keys": 500, "min_match_rate": 0.999, "on_fail": "revert"},
            "remove_sync": {"window_seconds": 900, "max_sync_calls": 0},
        },
        "auto_revert": True,
        "evidence": {
            c.name: {"confidence": c.confidence, "key": c.key, "why": c.evidence}
            for c in proposal.contexts
        }
        | {
            "_unmatched_services": [
                {"base": s.base, "paths": list(s.paths), "calls": s.calls}
                for s in proposal.unmatched_services
            ],
            "_ignored_tables": proposal.ignored_tables,
        },
    }
