"""The fault matrix: each fault hits the real stack while orders flow in dual-write, and the
comparators then see zero lost, zero double-applied and zero divergent outcomes, with every
business invariant holding. The last test moves to async and survives downstream faults."""

from __future__ import annotations

import pytest

from rehearsal.run import Rehearsal
from rehearsal.scenario import Fault, FaultKind
from tests.integration.rehearsal.conftest import (
    POISON,
    assert_nothing_lost_or_doubled,
    compare,
    invariants,
)

MATRIX = [
    Fault(kind=FaultKind.KILL_SHADOW_WORKER),
    Fault(kind=FaultKind.RESTART_CONNECT),
    Fault(kind=FaultKind.RESTART_KAFKA),
    Fault(kind=FaultKind.RESTART_POSTGRES),
    Fault(kind=FaultKind.DUPLICATE_DELIVERIES, count=25),
    POISON,
    Fault(kind=FaultKind.OFFSET_REWIND),
]


@pytest.mark.parametrize("fault", MATRIX, ids=[f.kind.value for f in MATRIX])
def test_fault_during_dual_write_loses_and_doubles_nothing(dual: Rehearsal, fault: Fault) -> None:
    before = compare(dual).settled_keys
    dlq_before = dual.runner.ctx.ports.lag.lag("order").dead_lettered

    report = dual.traffic_burst(3, seconds=6, faults=[fault])
    dual.env.wait_settled()

    summary = compare(dual)
    assert report.sent > 0
    assert summary.settled_keys > before
    assert_nothing_lost_or_doubled(summary)
    assert [i.name for i in invariants(dual, summary) if not i.holds] == []
    dlq_after = dual.runner.ctx.ports.lag.lag("order").dead_lettered
    expected_dlq = fault.count if fault.kind is FaultKind.POISON_EVENTS else 0
    assert dlq_after - dlq_before == expected_dlq


def test_after_the_matrix_the_dual_write_gate_passes_and_async_survives_downstream_faults(
    dual: Rehearsal,
) -> None:
    while compare(dual).settled_keys < 150:  # enough keys for the Wilson bound to clear 0.97
        dual.traffic_burst(3, seconds=6, faults=[])
        dual.env.wait_settled()
    # The poison events stay on the topic (dead-lettered, not deleted); the gate's schema
    # check samples each partition's tail, so clean traffic must first push them out of it,
    # as it would once a team fixed the producer that wrote them.
    schemas = dual.runner.ctx.ports.schemas
    for _ in range(6):
        if schemas.check("order", dual.runner.ctx.plan.contexts["order"].events).compatible:
            break
        dual.traffic_burst(3, seconds=6, faults=[])
        dual.env.wait_settled()
    outcome = dual.runner.advance(4, context="order")
    assert outcome.status == "done", outcome.gate and outcome.gate.reasons
    # no worker restart: events stamped async get their effects performed

    faults = [Fault(kind=FaultKind.DOWNSTREAM_ERRORS, phase=4, error_rate=0.3, timeout_rate=0.05)]
    dual.traffic_burst(4, seconds=6, faults=faults)
    dual.env.wait_settled()

    reverse = compare(dual, candidate="verify")
    assert reverse.settled_keys > 0
    assert_nothing_lost_or_doubled(reverse)
    assert [i.name for i in invariants(dual) if not i.holds] == []
