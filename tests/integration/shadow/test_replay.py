"""Replay: reset the group's offsets by time and rebuild the shadow store; the rebuilt outcomes
equal the originals. Also the status command and the analytics consumer added later."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

from click.testing import CliRunner

from cutover_common.secrets import Secret
from legacy_app.orderflow.outcomes import event_outcomes
from legacy_app.orderflow.samples import order_payload
from legacy_app.orderflow.store_pg import PostgresStore
from shadow.cli import shadow
from shadow.commands import replay, run_worker, status
from shadow.config import ShadowConfig
from tests.integration.shadow.conftest import SAMPLE_APP, Pipeline, wait_until
from tests.integration.shadow.expected import comparable

N = 300


def _config(pipeline: Pipeline, *consumers: str) -> ShadowConfig:
    return ShadowConfig(
        bootstrap_servers=pipeline.endpoints.bootstrap_servers,
        dsn=Secret(pipeline.dsn),
        app=SAMPLE_APP,
        group_id=pipeline.group,
        topics=(pipeline.topic,),
        consumers=consumers or ("flow",),
        batch_timeout=0.3,
    )


def _stock(pipeline: Pipeline) -> dict[str, int]:
    store = PostgresStore(pipeline.dsn)
    try:
        with store.transaction() as tx:
            return tx.lock_stock([f"SKU-{n:04d}" for n in range(1, 51)])
    finally:
        store.close()


def test_replay_rebuilds_the_same_outcomes_and_analytics_joins_later(pipeline: Pipeline) -> None:
    started = datetime.now(UTC) - timedelta(seconds=1)
    payloads = [
        order_payload(
            f"rp-{i:04d}",
            [(f"SKU-{1 + i % 50:04d}", 1 + i % 3)],
            payment_method="card_declined" if i % 7 == 0 else "card",
        )
        for i in range(N)
    ]
    pipeline.insert_orders(payloads)
    config = _config(pipeline)
    wait_until(lambda: pipeline.topic_records() >= N, 60, "the connector to publish")
    run_worker(config, "flow", idle_stop=3.0)
    original = {o.order_id: comparable(o) for o in event_outcomes(pipeline.dsn)}
    stock_before = _stock(pipeline)
    assert len(original) == N

    report = replay(config, started, out=io.StringIO())
    assert report.forgotten == {"flow": N}
    assert list(event_outcomes(pipeline.dsn)) == []
    assert sum(report.offsets[pipeline.group].values()) == 0
    run_worker(config, "flow", idle_stop=3.0)
    rebuilt = {o.order_id: comparable(o) for o in event_outcomes(pipeline.dsn)}
    assert rebuilt == original
    assert _stock(pipeline) == stock_before

    analytics = _config(pipeline, "analytics")
    run_worker(analytics, "analytics", idle_stop=3.0)
    total_qty = pipeline.scalar("SELECT sum(quantity) FROM shadow.analytics_product_minute")
    assert total_qty == sum(1 + i % 3 for i in range(N))
    revenue = pipeline.scalar("SELECT sum(revenue) FROM shadow.analytics_product_minute")
    assert str(revenue) == str(sum(__import__("decimal").Decimal(p["total"]) for p in payloads))

    data = status(_config(pipeline, "flow", "analytics"))
    assert data["total_lag"] == 0 and data["dead_lettered"] == 0
    assert data["rows"]["order_status"] == N

    result = CliRunner().invoke(
        shadow,
        [
            "--dsn",
            pipeline.dsn,
            "--bootstrap",
            pipeline.endpoints.bootstrap_servers,
            "--group",
            pipeline.group,
            "--topic",
            pipeline.topic,
            "status",
            "--app",
            SAMPLE_APP,
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert shown["total_lag"] == 0 and pipeline.dsn not in result.output
