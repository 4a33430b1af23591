"""``cutover compare run`` on the real Postgres after the legacy table's column was renamed:
a failed verdict (exit 4) naming the database's one-line message, evidence written, no
traceback."""

from __future__ import annotations

import html
import json
from pathlib import Path

import psycopg
import pytest

from comparators.sources import libpq_url
from cutover_common.exit_codes import ExitCode
from phases.cli import cli
from rehearsal.stack.endpoints import Endpoints
from tests.support.plans import full_plan
from tests.unit.cli.conftest import run

pytestmark = pytest.mark.integration

MESSAGE = 'sync outcome query failed: column "total" does not exist'
PLAN = """
system:
  database: {url_env: QF_DATABASE_URL}
  kafka: {bootstrap_servers: "%s"}  # the stack's; no such topic: the position is not measured
contexts:
  order:
    tables: [orders]
    topic: {name: qf.no-such-topic}
    outcome:
      key: order_id
      sync_query: "SELECT id AS order_id, status, total, produced_at FROM orders"
      event_query: "SELECT order_id, status, total, produced_at FROM shadow_orders"
gates:
  dual_write: {min_settled_keys: 10, min_match_rate: 0.8, warn_match_rate: 0.7}
"""
DDL = (
    "CREATE TABLE orders (id text PRIMARY KEY, status text, total numeric(12,2), "
    "produced_at timestamptz)",
    "CREATE TABLE shadow_orders (order_id text PRIMARY KEY, status text, total numeric(12,2), "
    "produced_at timestamptz)",
    "INSERT INTO orders SELECT 'o' || g, 'completed', 10 + g, now() - interval '2 minutes' "
    "FROM generate_series(1, 20) g",
    "INSERT INTO shadow_orders SELECT id, status, total, produced_at FROM orders",
)


def test_compare_run_after_a_column_rename_fails_naming_the_column(
    endpoints: Endpoints, fresh_database: str, tmp_path: Path
) -> None:
    url = endpoints.database_url(fresh_database)
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        for ddl in DDL:
            conn.execute(ddl)
    plan = tmp_path / "plan.yaml"
    plan.write_text(full_plan(PLAN % endpoints.bootstrap_servers))
    args = ["compare", "run", "--plan", str(plan), "--context", "order", "--json"]
    env = {"QF_DATABASE_URL": url}
    before = run(cli, [*args, "--out", str(tmp_path / "before")], env)
    assert before.code == ExitCode.OK, before.err
    assert json.loads(before.out)["figures"]["settled"] == 20

    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute("ALTER TABLE orders RENAME COLUMN total TO order_total")
    out_dir = tmp_path / "after"
    ran = run(cli, [*args, "--out", str(out_dir)], env)

    assert ran.code == ExitCode.FAIL == 4
    doc = json.loads(ran.out)
    assert doc["verdict"]["status"] == "fail"
    assert doc["verdict"]["reasons"] == [MESSAGE] and doc["error"] == MESSAGE
    assert json.loads((out_dir / "evidence.json").read_text())["error"] == MESSAGE
    assert MESSAGE in html.unescape((out_dir / "report.html").read_text())
    assert "Traceback" not in ran.out + ran.err
    assert url.rpartition("@")[0] not in ran.out + ran.err  # no credentials in the output
