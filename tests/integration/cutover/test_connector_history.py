"""A re-created connector never republishes the outbox's history (snapshot mode ``no_data``).

1,000 events go through the phase-2 connector built from the plan. The operator then
re-creates it from scratch — stopped, its Connect offsets reset (as a new Connect cluster or
an offsets reset would leave it), deleted, created again with the same name and the same
replication slot. One more event is written: the topic holds exactly 1,001 messages. Under
``initial`` the new connector would snapshot the outbox (its rows stay in the table) and
publish the 1,000 again before the new one.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import psycopg
import pytest

import cutover
from cdc.client import ConnectClient
from cutover.provision import init_outbox
from rehearsal.stack.endpoints import Endpoints
from tests.integration.cutover.outbox_stack import (
    URL_ENV,
    phase_2_connector,
    topic_size,
    wait_until,
    write_plan,
)

pytestmark = pytest.mark.integration


def test_a_recreated_connector_publishes_no_event_twice(
    endpoints: Endpoints, fresh_database: str, unique: str, tmp_path: Path
) -> None:
    plan = write_plan(tmp_path / "plan.yaml", endpoints, unique)
    url = endpoints.database_url(fresh_database)
    outbox = cutover.Outbox.from_spec(plan.outbox)
    init_outbox(url, outbox.layout)
    topic = f"{plan.system.kafka.topic_prefix}.article"
    bootstrap = plan.system.kafka.bootstrap_servers
    client = ConnectClient.from_url(plan.system.connect.url)

    def emit(n: int) -> None:
        with psycopg.connect(endpoints.dsn(fresh_database)) as conn, conn.transaction():
            for _ in range(n):
                key = str(uuid.uuid4())
                outbox.emit(conn, "article", key, "article.published", {"slug": key})

    with phase_2_connector(plan, {URL_ENV: url}[URL_ENV]) as admin:
        emit(1000)
        wait_until("1,000 events on the topic", lambda: topic_size(bootstrap, topic) == 1000)

        client.stop(admin.name)
        client.wait_for(admin.name, "STOPPED", timeout_s=30)
        client.reset_offsets(admin.name)
        client.delete_connector(admin.name)
        admin.apply_outbox_connector()  # same name, same slot, no offsets
        emit(1)
        wait_until("the new event on the topic", lambda: topic_size(bootstrap, topic) >= 1001)

        assert topic_size(bootstrap, topic) == 1001
        assert admin.config()["snapshot.mode"] == "no_data"
