"""`cutover smoke` — the end-to-end smoke check of the local stack."""

from __future__ import annotations

import sys
import time
from dataclasses import asdict

import click

from cutover_common.cli import echo_json


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def smoke(as_json: bool) -> None:
    """Bring the stack up and send one outbox row through Debezium to Kafka."""
    from rehearsal.smoke import run_smoke
    from rehearsal.stack import manager
    from rehearsal.stack.endpoints import load_endpoints
    from rehearsal.stack.topology import load_topology

    t0 = time.monotonic()
    topo = load_topology()
    report = manager.up(topo)
    result = run_smoke(load_endpoints(topo))
    total = time.monotonic() - t0
    if as_json:
        echo_json(
            {"stack_seconds": report.seconds, "smoke": asdict(result), "total_seconds": total}
        )
        return
    click.echo(f"stack up in {report.seconds:.1f}s")
    click.echo(
        f"smoke passed: outbox row -> Debezium -> topic {result.topic}, key {result.key}, "
        f"event id {result.event_id}, type {result.headers.get('type')}, in {result.seconds:.1f}s"
    )
    click.echo(f"took {total:.1f}s")
    sys.stdout.flush()
