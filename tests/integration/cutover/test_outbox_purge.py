"""``cutover outbox purge`` on the real stack: only rows the replication slot has captured go.

An application's outbox with renamed columns, captured by the phase-2 connector built from
the plan. While the connector is paused its slot does not confirm the newest rows, so the
purge deletes nothing at all (it waits, then names the slot and exits 7); once resumed, the
purge removes the old rows and keeps the young ones, and the deletes publish nothing. ``--dry-run`` only counts; a plan
whose slot does not exist purges nothing (exit 9).
"""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path

import psycopg
import pytest

from cdc.client import ConnectClient
from cutover.commands import OutboxCommandConfig, outbox_init, outbox_purge
from phases.plan import Plan
from rehearsal.stack.endpoints import Endpoints
from tests.integration.cutover.outbox_stack import (
    URL_ENV,
    phase_2_connector,
    topic_size,
    wait_until,
    write_plan,
)

pytestmark = pytest.mark.integration

RENAMED = {
    "table": "app.journal",
    "id": "event_id",
    "aggregate_type": "stream",
    "aggregate_id": "stream_key",
    "event_type": "kind",
    "payload": "body",
    "created_at": "written_at",
}


def add_rows(dsn: str, n: int, *, age: str) -> set[str]:
    """``n`` rows written ``age`` ago (created_at set in the INSERT); their ids."""
    ids = {str(uuid.uuid4()) for _ in range(n)}
    with psycopg.connect(dsn) as conn:
        for event_id in ids:
            conn.execute(
                "insert into app.journal (event_id, stream, stream_key, kind, body, written_at)"
                " values (%s, 'article', %s, 'article.published', '{}', now() - %s::interval)",
                (event_id, event_id, age),
            )
    return ids


def remaining(dsn: str) -> set[str]:
    with psycopg.connect(dsn) as conn:
        return {str(r[0]) for r in conn.execute("select event_id from app.journal").fetchall()}


def purge(
    plan_path: Path, environ: dict[str, str], *, dry_run: bool = False, wait_s: float = 20.0
) -> tuple[int, dict[str, object], str]:
    out, err = io.StringIO(), io.StringIO()
    config = OutboxCommandConfig(plan_path, json=True, stdout=out, stderr=err, environ=environ)
    code = outbox_purge(config, "1h", dry_run=dry_run, wait_s=wait_s)
    return code, json.loads(out.getvalue()), err.getvalue()


@pytest.fixture
def setup(
    endpoints: Endpoints, fresh_database: str, unique: str, tmp_path: Path
) -> tuple[Plan, Path, dict[str, str], str]:
    plan_path = tmp_path / "plan.yaml"
    plan = write_plan(plan_path, endpoints, unique, RENAMED)
    environ = {URL_ENV: endpoints.database_url(fresh_database)}
    config = OutboxCommandConfig(plan_path, stdout=io.StringIO(), environ=environ)
    assert outbox_init(config) == 0
    return plan, plan_path, environ, endpoints.dsn(fresh_database)


def test_purge_removes_only_old_rows_the_slot_has_captured(
    setup: tuple[Plan, Path, dict[str, str], str],
) -> None:
    plan, plan_path, environ, dsn = setup
    bootstrap = plan.system.kafka.bootstrap_servers
    with phase_2_connector(plan, environ[URL_ENV]) as admin:
        captured_old = add_rows(dsn, 10, age="2 hours")
        client = ConnectClient.from_url(plan.system.connect.url)
        client.pause(admin.name)
        client.wait_for(admin.name, "PAUSED", timeout_s=30)
        uncaptured_old = add_rows(dsn, 10, age="3 hours")
        young = add_rows(dsn, 5, age="1 minute")

        code, refused, _ = purge(plan_path, environ, wait_s=3)

        assert code == 7
        assert refused["status"] == "refused" and refused["purged"] == 0
        assert f"replication slot {plan.system.connect.slot_name}" in str(refused["reason"])
        assert remaining(dsn) == captured_old | uncaptured_old | young

        client.resume(admin.name)
        client.wait_for(admin.name, "RUNNING", timeout_s=30)
        code, counted, _ = purge(plan_path, environ, dry_run=True)
        assert (code, counted["candidates"], counted["purged"]) == (0, 20, 0)
        assert remaining(dsn) == captured_old | uncaptured_old | young

        code, done, _ = purge(plan_path, environ)

        assert (code, done["candidates"], done["purged"]) == (0, 20, 20)
        assert remaining(dsn) == young
        # the DELETEs reach the connector before a later row: the router publishes none
        marker = add_rows(dsn, 1, age="0 seconds")
        topic = f"{plan.system.kafka.topic_prefix}.article"
        wait_until("the row after the purge", lambda: topic_size(bootstrap, topic) >= 26)
        assert topic_size(bootstrap, topic) == 26 and remaining(dsn) == young | marker
        state = client.status(admin.name)
        assert (state.state, [t.state for t in state.tasks]) == ("RUNNING", ["RUNNING"])


def test_purge_without_the_plans_slot_purges_nothing(
    setup: tuple[Plan, Path, dict[str, str], str],
) -> None:
    _plan, plan_path, environ, dsn = setup  # no connector: the slot does not exist
    old = add_rows(dsn, 3, age="2 hours")

    code, refused, _ = purge(plan_path, environ)

    assert code == 9
    assert "does not exist in this database" in str(refused["reason"])
    assert remaining(dsn) == old
