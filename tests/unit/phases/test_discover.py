from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import yaml
from sqlalchemy import create_engine, text

from phases.commands import CommandConfig
from phases.discover import RecordedCall, TableInfo, cluster_tables, event_types, propose, singular
from phases.discover_command import discover, read_calls
from phases.errors import DiscoveryError
from phases.plan import load_plan

TABLES = [
    TableInfo("customers", ("id", "email")),
    TableInfo("products", ("sku", "price")),
    TableInfo("orders", ("id", "customer_id", "total"), ("customers",)),
    TableInfo("order_items", ("order_id", "sku", "qty"), ("orders", "products")),
    TableInfo("outbox", ("id", "aggregatetype")),
    TableInfo("inventory_stock", ("sku", "on_hand")),
    TableInfo("inventory_reservations", ("id", "order_id")),
    TableInfo(
        "inventory_reservation_lines", ("reservation_id", "sku"), ("inventory_reservations",)
    ),
    TableInfo("payments", ("id", "order_id", "amount")),
    TableInfo("shipments", ("id", "order_id", "carrier")),
    TableInfo("notifications", ("id", "order_id", "template")),
    TableInfo("cutover_context_modes", ("context", "mode")),
]


def calls() -> list[RecordedCall]:
    out = []
    for i in range(10):
        for url in (
            "http://localhost:5001/reserve",
            "http://localhost:5002/charge",
            "http://localhost:5003/shipments",
            "http://localhost:5004/notifications",
            "http://localhost:5002/charge/verify",
        ):
            out.append(RecordedCall("POST", url, f"corr-{i}", 10.0 + i))
    return out


def test_tables_cluster_by_foreign_keys_and_shared_leading_word() -> None:
    clusters = cluster_tables([t for t in TABLES if t.name != "outbox"])
    assert ["customers", "order_items", "orders", "products"] in clusters
    assert ["inventory_reservation_lines", "inventory_reservations", "inventory_stock"] in clusters
    assert ["payments"] in clusters


def test_proposal_maps_services_to_contexts_with_evidence() -> None:
    proposal = propose(TABLES, calls())
    by_name = {c.name: c for c in proposal.contexts}
    assert sorted(by_name) == ["inventory", "notification", "order", "payment", "shipment"]
    assert by_name["inventory"].endpoints == ["http://localhost:5001/reserve"]
    assert by_name["inventory"].events == ["inventory.reserved"]
    assert by_name["shipment"].endpoints == ["http://localhost:5003/shipments"]
    assert by_name["payment"].endpoints == ["http://localhost:5002/charge"]
    assert by_name["payment"].confidence == "low"
    assert by_name["order"].endpoints == []
    assert any("10 calls over 10 correlation ids" in e for e in by_name["shipment"].evidence)
    assert proposal.ignored_tables == ["cutover_context_modes", "outbox"]
    assert proposal.unmatched_services == []


def test_event_types_from_paths() -> None:
    assert event_types("payment", ["/charge", "/refund", "/charge/verify"]) == [
        "payment.charged",
        "payment.refunded",
    ]
    assert event_types("shipping", ["/shipments"]) == ["shipping.created"]
    assert singular("inventories") == "inventory" and singular("address") == "address"


def test_read_calls_reports_the_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "calls.jsonl"
    path.write_text('{"method": "post", "url": "http://a:1/x", "duration_ms": 3}\n{"url": 1}\n')
    with pytest.raises(DiscoveryError, match=r"calls\.jsonl:2"):
        read_calls(path)
    path.write_text(
        '{"method": "post", "url": "http://a:1/x", "correlation_id": "c", "duration_ms": 3}\n'
    )
    assert read_calls(path) == [RecordedCall("POST", "http://a:1/x", "c", 3.0)]


def test_discover_reflects_a_database_and_writes_a_valid_draft(tmp_path: Path) -> None:
    db = tmp_path / "legacy.db"
    engine = create_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE customers (id TEXT PRIMARY KEY, email TEXT)"))
        conn.execute(
            text(
                "CREATE TABLE orders (id TEXT PRIMARY KEY, customer_id TEXT "
                "REFERENCES customers(id))"
            )
        )
        conn.execute(text("CREATE TABLE payments (id TEXT PRIMARY KEY, order_id TEXT)"))
        conn.execute(text("CREATE TABLE shipments (id TEXT PRIMARY KEY, order_id TEXT)"))
        conn.execute(text("CREATE TABLE outbox (id TEXT PRIMARY KEY)"))
    engine.dispose()
    calls_file = tmp_path / "calls.jsonl"
    calls_file.write_text(
        "\n".join(
            json.dumps({"method": "POST", "url": u, "correlation_id": "c1", "duration_ms": 5})
            for u in ("http://localhost:5002/charge?token=abc", "http://localhost:5003/shipments")
        )
        + "\n"
    )
    out = tmp_path / "draft.yaml"
    config = CommandConfig(
        stdout=io.StringIO(), json=True, environ={"LEGACY_DATABASE_URL": f"sqlite:///{db}"}
    )
    assert (
        discover(config, url_env="LEGACY_DATABASE_URL", calls_file=calls_file, schema=None, out=out)
        == 0
    )
    plan = load_plan(out)
    assert sorted(plan.contexts) == ["order", "payment", "shipment"]
    assert plan.contexts["payment"].endpoints == ["http://localhost:5002/charge"]
    text_out = out.read_text()
    assert text_out.startswith("# Migration plan DRAFT")
    assert "token=abc" not in text_out
    assert plan.evidence is not None and "why" in plan.evidence["shipment"]
    assert yaml.safe_load(text_out)["evidence"]["_ignored_tables"] == ["outbox"]


def test_discover_cli_writes_the_draft(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from phases.cli import cli

    db = tmp_path / "l.db"
    engine = create_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE payments (id TEXT PRIMARY KEY, order_id TEXT)"))
    engine.dispose()
    out = tmp_path / "p.yaml"
    result = CliRunner(env={"LEGACY_DATABASE_URL": f"sqlite:///{db}"}).invoke(
        cli, ["discover", "--out", str(out), "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["contexts"]["payment"]["tables"] == ["payments"]
    assert load_plan(out).contexts["payment"].topic.name == "outbox.event.payment"
