"""The plan draft ``cutover discover`` writes: pure, from a :class:`~phases.discover.Proposal`.

Endpoints (Kafka bootstrap servers, the Kafka Connect URL) are inputs, never defaults: the
command takes them from flags or the environment (:mod:`cutover_common.config`).
"""

from __future__ import annotations

from typing import Any

from phases.discover import ContextProposal, Proposal


def draft_plan(
    proposal: Proposal, *, url_env: str, bootstrap: str, connect_url: str
) -> dict[str, Any]:
    """A plan mapping (valid against the schema) with an ``evidence:`` section."""
    return {
        "version": 1,
        "system": {
            "database": {"url_env": url_env},
            "kafka": {"bootstrap_servers": bootstrap},
            "connect": {"url": connect_url, "auth_env": "CONNECT_AUTH"},
        },
        "contexts": {c.name: _context_entry(c) for c in proposal.contexts},
        "gates": GATES,
        "auto_revert": True,
        "evidence": _evidence(proposal),
    }


GATES: dict[str, Any] = {
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
}


def _context_entry(c: ContextProposal) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "tables": c.tables,
        "aggregate": c.name,
        "topic": {"name": f"outbox.event.{c.name}", "partitions": 6, "retention_ms": 604800000},
        "events": c.events,
        "compare": {"ignore": ["produced_at"], "settle_seconds": 5},
    }
    if c.endpoints:
        entry["sync_endpoints"] = c.endpoints
    return entry


def _evidence(proposal: Proposal) -> dict[str, Any]:
    """Why each context, the shared (hub) tables, what matched nothing, what was ignored."""
    per_context: dict[str, Any] = {
        c.name: {"confidence": c.confidence, "key": c.key, "root": c.root, "why": c.evidence}
        for c in proposal.contexts
    }
    return per_context | {
        "_shared_tables": {s.name: s.reason for s in proposal.shared},
        "_unmatched_services": [
            {"base": s.base, "paths": list(s.paths), "calls": s.calls}
            for s in proposal.unmatched_services
        ],
        "_ignored_tables": proposal.ignored_tables,
    }
