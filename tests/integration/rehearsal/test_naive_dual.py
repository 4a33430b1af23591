"""Why the outbox: `naive-dual` (produce to Kafka after the commit) loses the events of a
process that dies between commit and produce, and the comparators report every one of them
as `missing`; `dual` through the transactional outbox, under the same crashes, loses none."""

from __future__ import annotations

import time
from collections.abc import Iterator

import psycopg
import pytest

from cutover_common.modes import Mode
from rehearsal.run import Rehearsal
from rehearsal.stack.endpoints import Endpoints
from rehearsal.stack.topology import Topology
from tests.integration.rehearsal.conftest import compare, make_rehearsal

CRASH_ENV = {"CUTOVER_FAULT_CRASH_BEFORE_PRODUCE": "0.25"}


@pytest.fixture(scope="module")
def crashing(endpoints: Endpoints, topology: Topology) -> Iterator[Rehearsal]:
    rehearsal = make_rehearsal(topology, "naive", workers=1)
    try:
        assert rehearsal.enter_dual_write()
        rehearsal.env.restart_app(CRASH_ENV)
        yield rehearsal
    finally:
        rehearsal.env.teardown()


def _set_mode(rehearsal: Rehearsal, mode: Mode) -> None:
    rehearsal.runner.ctx.ports.modes.set_modes({"order": mode}, actor="test")
    time.sleep(2.0)  # the app caches the mode briefly


def _unseen(rehearsal: Rehearsal, mode: str) -> int:
    """Finished orders placed in ``mode`` whose events never reached the shadow store."""
    with psycopg.connect(rehearsal.env.endpoints.dsn(rehearsal.env.database)) as conn:
        row = conn.execute(
            "select count(*) from orders o where o.mode = %s and o.status in ('completed','failed')"
            " and not exists (select 1 from shadow.order_status s where s.order_id = o.id)",
            (mode,),
        ).fetchone()
    return int(row[0]) if row else -1


def test_naive_dual_loses_events_on_crash_and_every_loss_is_reported_missing(
    crashing: Rehearsal,
) -> None:
    _set_mode(crashing, Mode.NAIVE_DUAL)
    crashing.traffic_burst(3, seconds=8, faults=[])
    crashing.env.wait_settled(timeout=60)

    lost = _unseen(crashing, "naive-dual")
    # a key without candidate is pending until the pipeline's watermark (the connector's
    # last heartbeat seen in Kafka, every 2 s here) passes its settle deadline
    deadline = time.monotonic() + 30
    summary = compare(crashing)
    while summary.counts.get("pending", 0) and time.monotonic() < deadline:
        time.sleep(1)
        summary = compare(crashing)

    assert lost > 0
    assert summary.counts.get("pending", 0) == 0
    assert summary.counts.get("missing", 0) == lost
    assert summary.verdict == "fail"


def test_dual_through_the_outbox_loses_nothing_under_the_same_crash_setting(
    crashing: Rehearsal,
) -> None:
    missing_before = compare(crashing).counts.get("missing", 0)
    _set_mode(crashing, Mode.DUAL)
    crashing.traffic_burst(3, seconds=8, faults=[])
    crashing.env.wait_settled(timeout=60)

    assert _unseen(crashing, "dual") == 0
    assert compare(crashing).counts.get("missing", 0) == missing_before
