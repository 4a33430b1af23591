from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import yaml
from sqlalchemy import create_engine, text

from phases.commands import CommandConfig
from phases.discover import (
    RecordedCall,
    TableInfo,
    WriteGroup,
    cluster_tables,
    event_types,
    propose,
    singular,
)
from phases.discover_command import discover, read_calls, read_writes
from phases.discover_draft import draft_plan
from phases.discover_graph import written_tables
from phases.errors import DiscoveryError, EndpointMissing, RecordingInvalid
from phases.plan import load_plan
from tests.unit.phases.discover_schemas import BLOG

ENDPOINTS = {
    "CUTOVER_KAFKA_BOOTSTRAP_SERVERS": "kafka.internal:9092",
    "CUTOVER_CONNECT_URL": "http://connect.internal:8083",
}

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
        stdout=io.StringIO(),
        json=True,
        environ={"LEGACY_DATABASE_URL": f"sqlite:///{db}", **ENDPOINTS},
    )
    assert (
        discover(config, url_env="LEGACY_DATABASE_URL", calls_file=calls_file, schema=None, out=out)
        == 0
    )
    plan = load_plan(out)
    # named after the aggregate root, the table the other points to (orders -> customers)
    assert sorted(plan.contexts) == ["customer", "payment", "shipment"]
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
    result = CliRunner(env={"LEGACY_DATABASE_URL": f"sqlite:///{db}", **ENDPOINTS}).invoke(
        cli, ["discover", "--out", str(out), "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["contexts"]["payment"]["tables"] == ["payments"]
    assert load_plan(out).contexts["payment"].topic.name == "outbox.event.payment"


def _sqlite_with_one_table(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'one.db'}"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE payments (id TEXT PRIMARY KEY, order_id TEXT)"))
    engine.dispose()
    return url


def test_draft_takes_kafka_and_connect_addresses_from_the_environment(tmp_path: Path) -> None:
    out = tmp_path / "p.yaml"
    environ = {"DB": _sqlite_with_one_table(tmp_path), **ENDPOINTS}
    config = CommandConfig(stdout=io.StringIO(), json=True, environ=environ)
    discover(config, url_env="DB", calls_file=None, schema=None, out=out)
    system = load_plan(out).system
    assert (system.kafka.bootstrap_servers, system.connect.url) == (
        "kafka.internal:9092",
        "http://connect.internal:8083",
    )


def test_endpoint_flags_win_over_the_environment(tmp_path: Path) -> None:
    out = tmp_path / "p.yaml"
    environ = {"DB": _sqlite_with_one_table(tmp_path), **ENDPOINTS}
    config = CommandConfig(stdout=io.StringIO(), json=True, environ=environ)
    discover(
        config,
        url_env="DB",
        calls_file=None,
        schema=None,
        out=out,
        bootstrap="b1:9092,b2:9092",
        connect_url="https://connect.example:8443",
    )
    system = load_plan(out).system
    assert (system.kafka.bootstrap_servers, system.connect.url) == (
        "b1:9092,b2:9092",
        "https://connect.example:8443",
    )


def test_discover_without_bootstrap_servers_names_the_flag_and_variable(tmp_path: Path) -> None:
    config = CommandConfig(stdout=io.StringIO(), environ={"DB": _sqlite_with_one_table(tmp_path)})
    with pytest.raises(EndpointMissing) as err:
        discover(config, url_env="DB", calls_file=None, schema=None, out=tmp_path / "p.yaml")
    assert err.value.one_line() == (
        "Kafka bootstrap servers not given — pass --bootstrap-servers or set "
        "CUTOVER_KAFKA_BOOTSTRAP_SERVERS"
    )
    assert not (tmp_path / "p.yaml").exists()


def test_discover_cli_without_connect_url_exits_with_invalid_input_in_one_line(
    tmp_path: Path,
) -> None:
    from phases.cli import cli
    from tests.unit.cli.conftest import run

    env = {"LEGACY_DATABASE_URL": _sqlite_with_one_table(tmp_path), "CUTOVER_CONNECT_URL": ""}
    ran = run(
        cli, ["discover", "--out", str(tmp_path / "p.yaml"), "--bootstrap-servers", "k:9"], env
    )
    assert (ran.code, ran.err.strip().splitlines()) == (
        2,
        [
            "error: Kafka Connect URL not given — pass --connect-url or set CUTOVER_CONNECT_URL",
        ],
    )


def test_discover_sources_name_no_default_address() -> None:
    root = Path(__file__).resolve().parents[3] / "phases"
    sources = [p.read_text() for p in sorted(root.glob("discover*.py"))]
    assert len(sources) >= 3
    assert not [s for s in sources if "localhost" in s or "127.0.0.1" in s]


def test_written_tables_reads_inserts_updates_deletes_without_schema_or_quotes() -> None:
    sql = (
        'INSERT INTO public."articles" (id) VALUES (1) ON CONFLICT (id) DO UPDATE SET id = 1; '
        "update ONLY tags set n = 1; DELETE FROM blog.favorites WHERE 1=1; "
        "SELECT * FROM comments"
    )
    assert written_tables(sql) == frozenset({"articles", "tags", "favorites"})


def test_read_writes_groups_lines_by_transaction(tmp_path: Path) -> None:
    path = tmp_path / "writes.jsonl"
    rows = [
        {"txn": 7, "sql": "INSERT INTO articles (id) VALUES ('a')"},
        {"txn": 8, "tables": ["public.comments"]},
        {"txn": 7, "tables": ["article_tags"]},
        {"txn": 9, "sql": "SELECT 1"},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    assert read_writes(path) == [
        WriteGroup("7", frozenset({"articles", "article_tags"})),
        WriteGroup("8", frozenset({"comments"})),
    ]


def test_read_writes_reports_the_bad_line_as_invalid_input(tmp_path: Path) -> None:
    path = tmp_path / "writes.jsonl"
    path.write_text('{"txn": 1, "tables": ["a"]}\n{"txn": 2, "tables": "a"}\n')
    with pytest.raises(RecordingInvalid, match=r"writes\.jsonl:2: bad write record") as err:
        read_writes(path)
    assert err.value.exit_code == 2


def test_read_writes_rejects_a_file_that_is_not_text(tmp_path: Path) -> None:
    path = tmp_path / "writes.jsonl"
    path.write_bytes(b"\xff\xfe\x00garbage\x9c")
    with pytest.raises(RecordingInvalid, match="not UTF-8 text"):
        read_writes(path)


def test_draft_lists_shared_tables_with_their_reason_and_in_no_context() -> None:
    draft = draft_plan(
        propose(BLOG, []), url_env="DB", bootstrap="k:9092", connect_url="http://c:8083"
    )
    assert list(draft["evidence"]["_shared_tables"]) == ["users"]
    assert "5 of the 7 other tables" in draft["evidence"]["_shared_tables"]["users"]
    assert all("users" not in c["tables"] for c in draft["contexts"].values())


def test_tables_that_are_all_hubs_still_form_a_context() -> None:
    names = ["a", "b", "c", "d"]
    tables = [TableInfo(n, ("id",), tuple(o for o in names if o != n)) for n in names]
    proposal = propose(tables, [])
    assert proposal.shared_tables == []
    assert [c.tables for c in proposal.contexts] == [names]


def test_context_key_is_the_aggregate_roots_id_column_of_its_children() -> None:
    keys = {c.name: c.key for c in propose(BLOG, []).contexts}
    assert keys == {"article": "article_id", "follow": "id", "notification": "id"}


def test_context_evidence_names_its_aggregate_root_and_referrers() -> None:
    article = next(c for c in propose(BLOG, []).contexts if c.name == "article")
    assert article.root == "articles"
    assert (
        "named after its aggregate root articles (referenced by article_tags, comments, favorites)"
        in article.evidence
    )


def test_recorded_writes_beat_foreign_keys_for_recorded_tables_only() -> None:
    tables = [
        TableInfo("articles", ("id",)),
        TableInfo("comments", ("id", "article_id"), ("articles",)),
        TableInfo("article_tags", ("article_id",), ("articles",)),
    ]
    writes = [WriteGroup("1", frozenset({"comments"})), WriteGroup("2", frozenset({"articles"}))]
    assert cluster_tables(tables, writes) == [["article_tags", "articles"], ["comments"]]
