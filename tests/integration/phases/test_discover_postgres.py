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
        discover(
            config,
            url_env="LEGACY_DATABASE_URL",
            calls_file=calls,
            schema=None,
            out=out,
            bootstrap=endpoints.bootstrap_servers,
            connect_url=endpoints.connect_url,
        )
        == 0
    )
    plan = load_plan(out)
    assert sorted(plan.contexts) == ["inventory", "order", "payment", "shipment"]
    assert plan.contexts["order"].tables == ["customers", "order_items", "orders"]
    assert plan.contexts["inventory"].endpoints == ["http://localhost:5001/reserve"]
    assert plan.contexts["payment"].endpoints == ["http://localhost:5002/charge"]
    assert plan.evidence is not None
    assert plan.evidence["payment"]["confidence"] == "low"
    assert "plan draft written to" in config.stdout.getvalue()  # type: ignore[attr-defined]


BLOG_DDL = [
    "CREATE TABLE users (id bigint PRIMARY KEY, username text UNIQUE, email text)",
    "CREATE TABLE follows (follower_id bigint REFERENCES users(id), "
    "followee_id bigint REFERENCES users(id), PRIMARY KEY (follower_id, followee_id))",
    "CREATE TABLE articles (id bigint PRIMARY KEY, author_id bigint REFERENCES users(id), "
    "slug text UNIQUE, title text, body text, favorites_count int)",
    "CREATE TABLE tags (id bigint PRIMARY KEY, name text UNIQUE)",
    "CREATE TABLE article_tags (article_id bigint REFERENCES articles(id), "
    "tag_id bigint REFERENCES tags(id), PRIMARY KEY (article_id, tag_id))",
    "CREATE TABLE comments (id bigint PRIMARY KEY, article_id bigint REFERENCES articles(id), "
    "author_id bigint REFERENCES users(id), body text)",
    "CREATE TABLE favorites (user_id bigint REFERENCES users(id), "
    "article_id bigint REFERENCES articles(id), PRIMARY KEY (user_id, article_id))",
    "CREATE TABLE notifications (id bigint PRIMARY KEY, recipient_id bigint REFERENCES users(id), "
    "kind text, subject_id bigint)",
]


def test_discover_on_a_postgres_blog_shares_users_and_splits_by_recorded_writes(
    endpoints: Endpoints, fresh_database: str, tmp_path: Path
) -> None:
    url = endpoints.database_url(fresh_database)
    engine = create_engine(url)
    with engine.begin() as conn:
        for ddl in BLOG_DDL:
            conn.execute(text(ddl))
    engine.dispose()
    recorded = tmp_path / "writes.jsonl"
    rows = [
        {"txn": f"p{i}", "sql": "INSERT INTO public.articles (id) VALUES (1)"} for i in range(3)
    ] + [{"txn": f"p{i}", "tables": ["article_tags", "tags"]} for i in range(3)]
    rows += [{"txn": f"c{i}", "sql": "INSERT INTO comments (id) VALUES (1)"} for i in range(5)]
    recorded.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    out = tmp_path / "plan.yaml"
    environ = {
        "LEGACY_DATABASE_URL": url,
        "CUTOVER_KAFKA_BOOTSTRAP_SERVERS": endpoints.bootstrap_servers,
        "CUTOVER_CONNECT_URL": endpoints.connect_url,
    }
    config = CommandConfig(stdout=io.StringIO(), json=True, environ=environ)
    code = discover(
        config,
        url_env="LEGACY_DATABASE_URL",
        calls_file=None,
        writes_file=recorded,
        schema=None,
        out=out,
    )
    assert code == 0
    plan = load_plan(out)
    assert {name: c.tables for name, c in plan.contexts.items()} == {
        "article": ["article_tags", "articles", "favorites", "tags"],
        "comment": ["comments"],
        "follow": ["follows"],
        "notification": ["notifications"],
    }
    assert plan.system.kafka.bootstrap_servers == endpoints.bootstrap_servers
    assert plan.evidence is not None and list(plan.evidence["_shared_tables"]) == ["users"]
