"""kill -9 of a worker mid-run, then a restart: no outcome lost, none applied twice."""

from __future__ import annotations

import random
from pathlib import Path

from legacy_app.orderflow.outcomes import event_outcomes
from legacy_app.orderflow.samples import order_payload
from tests.integration.shadow.conftest import Pipeline, committed_total, wait_until
from tests.integration.shadow.expected import comparable, expected_outcomes

N = 4000


def mixed_orders(n: int, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        lines = [
            (f"SKU-{rng.randint(1, 50):04d}", rng.randint(1, 3)) for _ in range(rng.randint(1, 3))
        ]
        method = "card"
        roll = rng.random()
        if roll < 0.1:
            method = "card_declined"
        elif roll < 0.15:
            lines.append(("SKU-OOS-2", 1))
        out.append(
            order_payload(f"kill-{i:05d}", lines, payment_method=method, email=f"c{i}@example.com")
        )
    return out


def test_kill_9_mid_run_then_restart_loses_nothing_and_applies_nothing_twice(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    rows = pipeline.insert_orders(mixed_orders(N))
    first = pipeline.start_worker("--batch-size", "100", log=tmp_path / "w1.log")
    pipeline.wait_processed(400, timeout=120)
    pipeline.crash_worker(first)  # the flow and analytics workers too, not only the supervisor
    done_at_kill = pipeline.processed()
    assert done_at_kill < N, "the worker was killed before it finished"

    second = pipeline.start_worker("--batch-size", "500", log=tmp_path / "w2.log")
    pipeline.wait_processed(N, timeout=240)
    wait_until(
        lambda: committed_total(pipeline.endpoints, pipeline.group, pipeline.topic) >= N,
        30,
        "offsets committed",
    )
    pipeline.stop_workers()
    assert second.returncode == 0, (tmp_path / "w2.log").read_text()[-3000:]

    expected, model = expected_outcomes(rows)
    actual = {o.order_id: comparable(o) for o in event_outcomes(pipeline.dsn)}
    assert len(actual) == N
    assert actual == expected
    assert pipeline.processed() == N
    stock = dict(
        (sku, avail) for sku, avail in _rows(pipeline, "SELECT sku, available FROM shadow.stock")
    )
    assert stock == model.state.stock, "every reservation applied exactly once"
    assert pipeline.scalar("SELECT count(*) FROM shadow.outbox") == len(model.state.outbox)
    assert pipeline.scalar("SELECT count(*) FROM shadow.payments") == sum(
        1 for o in expected.values() if o["payment"] is not None
    )


def _rows(pipeline: Pipeline, sql: str) -> list[tuple]:
    import psycopg

    with psycopg.connect(pipeline.dsn) as conn:
        return list(conn.execute(sql).fetchall())
