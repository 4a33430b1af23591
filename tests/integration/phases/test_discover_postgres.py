"""``cutover discover`` reflecting a real Postgres database."""

from __future__ import annotations

import io
import json
from pathlib import Path

from sqlalchemy import create_engine, text

from phases.commands import CommandConfig
from phases.discover_command import discover
from phases.plan import load_plan
from rehearsal.stack.endpoints import Endpoints

DDL = [
    "CREATE TABLE customers (id text PRIMARY KEY, email text)",
    "CREATE TABLE orders (id text PRIMARY KEY, customer_id text REFERENCES customers(id))",
    "CREATE TABLE order_items (order_id text REFERENCES orders(id), sku text, qty int)",
    "CREATE TABLE inventory_stock (sku text PRIMARY KEY, on_hand int)",
    "CREATE TABLE inventory_reservations (id text PRIMARY KEY, order_id text)",
    "CREATE TABLE payments (id text PRIMARY KEY, order_id text, amount numeric)",
    "CREATE TABLE shipments (id text PRIMARY KEY, order_id text, carrier text)",
    "CREATE TABLE outbox (id uuid PRIMARY KEY)",
]


def test_discover_on_postgres_proposes_contexts_with_evidence(
    endpoints: Endpoints, fresh_database: str, tmp_path: Path
) -> None:
    url = endpoints.database_url(fresh_database)
    engine = create_engine(url)
    with engine.begin() as conn:
        for ddl in DDL:
            conn.execute(text(ddl))
    engine.dispose()
    calls = tmp_path / "calls.jsonl"
    rows = [
        {
            "method": "POST",
            "url": f"http://localhost:{port}{path}",
            "correlation_id": f"c{i}",
            "duration_ms": 4 + i,
        }
        for i in range(5)
        for port, path in ((5001, "/reserve"), (5002, "/charge"), (5003, "/shipments"))
    ]
    calls.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    out = tmp_path / "plan.yaml"
    config = CommandConfig(stdout=io.StringIO(), environ={"LEGACY_DATABASE_URL": url})
    assert (
        discover(config, url_env="LEGACY_DATABASE_URL", calls_file=calls, schema=None, out=out) == 0
    )
    plan = load_plan(out)
    assert sorted(plan.contexts) == ["inventory", "order", "payment", "shipment"]
    assert plan.contexts["order"].tables == ["customers", "order_items", "orders"]
    assert plan.contexts["inventory"].endpoints == ["http://localhost:5001/reserve"]
    assert plan.contexts["payment"].endpoints == ["http://localhost:5002/charge"]
    assert plan.evidence is not None
    assert plan.evidence["payment"]["confidence"] == "low"
    assert "plan draft written to" in config.stdout.getvalue()  # type: ignore[attr-defined]
