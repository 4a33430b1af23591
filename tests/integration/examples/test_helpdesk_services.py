"""The helpdesk's rehearsal adapter on the real PostgreSQL: its three services start as
processes, serve seeded ticket traffic in ``sync`` mode, and stop."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from examples.helpdesk.rehearsal import SYSTEM, RunNames
from rehearsal.stack.endpoints import Endpoints


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def running(
    endpoints: Endpoints, fresh_database: str, tmp_path: Path
) -> Iterator[tuple[RunNames, str]]:
    names = RunNames(
        prefix="hd", connector_name="hd-outbox", slot_name="hd_outbox",
        consumer_group="hd.shadow", bootstrap_servers=endpoints.bootstrap_servers,
        connect_url=endpoints.connect_url, reports_dir=str(tmp_path / "reports"),
        ports={s: free_port() for s in SYSTEM.services},
    )  # fmt: skip
    url = endpoints.database_url(fresh_database)
    SYSTEM.start(tmp_path, url, names)
    yield names, url
    SYSTEM.stop(tmp_path)


def test_traffic_in_sync_mode_reaches_both_services_and_writes_no_event(
    running: tuple[RunNames, str],
) -> None:
    names, url = running
    burst = SYSTEM.traffic(names, seed=3, rate=12, seconds=1, concurrency=4)
    report = burst.report
    assert burst.sent == 12 and all(check.passed for check in burst.checks)
    assert report.failures == []
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            tickets = conn.execute(text("SELECT count(*) FROM tickets")).scalar_one()
            documents = conn.execute(text("SELECT count(*) FROM search_documents")).scalar_one()
            notices = conn.execute(text("SELECT count(*) FROM notifications_sent")).scalar_one()
            events = conn.execute(text("SELECT count(*) FROM outbox")).scalar_one()
    finally:
        engine.dispose()
    writes = sum(n for k, n in report.answers.items() if k.endswith("2xx") and "malformed" not in k)
    assert (tickets, documents, notices, events) == (
        len(report.tickets), len(report.tickets), writes, 0,
    )  # fmt: skip
