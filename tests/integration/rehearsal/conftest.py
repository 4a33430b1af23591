"""A rehearsal environment entered into dual-write, shared by the tests of one module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from phases.ports import ComparisonSummary, InvariantResult
from rehearsal.run import Rehearsal, RehearseOptions
from rehearsal.scenario import Fault, FaultKind, Scenario, ShadowSettings, Traffic
from rehearsal.sources import INVARIANTS
from rehearsal.stack.endpoints import Endpoints
from rehearsal.stack.topology import Topology

POISON = Fault(kind=FaultKind.POISON_EVENTS, count=6)


def make_rehearsal(
    topology: Topology, name: str, *, workers: int = 2, faults: tuple[Fault, ...] = ()
) -> Rehearsal:
    """A rehearsal whose plan allows exactly the poison events ``faults`` will inject."""
    scenario = Scenario(
        name=name,
        traffic=Traffic(rate=15, seconds=6, concurrency=4, seed=11),
        shadow=ShadowSettings(workers=workers),
        faults=faults,
    )
    return Rehearsal(topology, RehearseOptions(scenario), say=lambda _line: None)


@pytest.fixture(scope="module")
def dual(endpoints: Endpoints, topology: Topology) -> Iterator[Rehearsal]:
    """Stack, fresh database, app, connector and shadow workers; the context in dual."""
    rehearsal = make_rehearsal(topology, "matrix", faults=(POISON,))
    try:
        assert rehearsal.enter_dual_write(), [r.reasons for r in rehearsal.rows.values()]
        yield rehearsal
    finally:
        rehearsal.env.teardown()


def compare(rehearsal: Rehearsal, candidate: str = "event") -> ComparisonSummary:
    """Every settled key so far: sync (control) vs event, or event vs verify in phase 4."""
    ports = rehearsal.runner.ctx.ports
    return ports.comparison.compare("order", candidate=candidate, window_seconds=3600, min_keys=1)


def invariants(
    rehearsal: Rehearsal, summary: ComparisonSummary | None = None
) -> list[InvariantResult]:
    """The invariants off ``summary`` (an event comparison just run: no second run), else
    through the invariants port (its own comparison)."""
    if summary is not None:
        return summary.invariant_results(INVARIANTS)
    return rehearsal.runner.ctx.ports.invariants.check("order", INVARIANTS, 3600)


def assert_nothing_lost_or_doubled(summary: ComparisonSummary) -> None:
    """Zero lost (missing), zero double-applied (duplicate), zero divergent outcomes."""
    counts = dict(summary.counts)
    assert counts.get("missing", 0) == 0, summary.samples
    assert counts.get("duplicate", 0) == 0, summary.samples
    assert counts.get("divergent", 0) == 0, summary.samples
    assert summary.matched == summary.settled_keys - counts.get("extra", 0)
