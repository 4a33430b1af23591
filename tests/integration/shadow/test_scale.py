"""Several worker processes of one group split the partitions; metrics are served over HTTP.

Both write behind (dual mode) and reserve the same scarce SKU: each decides from its own stock
cache, so the write's check against the locked rows is what keeps them from overbooking it.
"""

from __future__ import annotations

import re
import signal
import socket
import time
from pathlib import Path

import requests

from legacy_app.orderflow.catalogue import initial_stock
from legacy_app.orderflow.outcomes import event_outcomes
from legacy_app.orderflow.samples import order_payload
from legacy_app.orderflow.store_pg import PostgresStore
from tests.integration.shadow.conftest import (
    Pipeline,
    committed_total,
    group_members,
    wait_until,
)

N = 900
SCARCE = 300  # units of SKU-0003 in the shadow store: a third of the orders get one


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_two_processes_share_the_partitions_and_expose_metrics(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    stock = initial_stock() | {"SKU-0003": SCARCE}
    PostgresStore(pipeline.dsn).ensure_schema(stock)  # the workers keep existing rows
    port = _free_port()
    log = tmp_path / "workers.log"
    parent = pipeline.start_worker(
        "--workers", "2", "--consumer", "flow",
        "--metrics-port", str(port), "--batch-size", "100", log=log,
    )  # fmt: skip
    wait_until(  # both hold partitions before any order: they work side by side
        lambda: group_members(pipeline.endpoints, pipeline.group) == 2, 60, "two members"
    )
    pipeline.insert_orders([order_payload(f"sc-{i:04d}", [("SKU-0003", 1)]) for i in range(N)])
    pipeline.wait_processed(N, timeout=120)
    wait_until(
        lambda: committed_total(pipeline.endpoints, pipeline.group, pipeline.topic) >= N,
        30,
        "offsets committed",
    )

    scraped = ""
    for p in (port, port + 1):
        scraped += requests.get(f"http://127.0.0.1:{p}/metrics", timeout=5).text
    processed = sum(
        float(v)
        for v in re.findall(
            r'shadow_events_processed_total\{processor="shadow.flow"\} (\S+)', scraped
        )
    )
    assert processed == N
    assert "shadow_handler_latency_seconds_bucket" in scraped and "shadow_consumer_lag" in scraped

    parent.send_signal(signal.SIGTERM)
    assert parent.wait(60) == 0
    time.sleep(0.5)
    text = log.read_text()
    assert text.count("worker_closed") == 2, text[-2000:]
    outcomes = list(event_outcomes(pipeline.dsn))
    assert len({o.order_id for o in outcomes}) == N
    reserved = [o for o in outcomes if o.reservation is not None and not o.reservation.released]
    assert len(reserved) == SCARCE, "exactly the stock was reserved: no overbooking"
    assert {o.status for o in outcomes} == {"completed", "failed"}
    assert pipeline.scalar("SELECT available FROM shadow.stock WHERE sku = 'SKU-0003'") == 0
    assert text.count("partitions_assigned") >= 2, "both workers joined the group"
