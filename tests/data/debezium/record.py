"""Record real Debezium messages from the local stack into ``tests/data/debezium/*.json``.

Run it against a running stack (``cutover stack up``)::

    .venv/bin/python tests/data/debezium/record.py

It creates a scratch database, three connectors with unique names (JSON
without schemas + transaction metadata + tombstones; JSON with schemas; the
outbox event router), makes one change of every kind — snapshot reads,
insert, update, an update that leaves a TOASTed column untouched
(REPLICA IDENTITY DEFAULT), delete (+ tombstone), a logical decoding message,
outbox inserts — and writes each captured Kafka message as it arrived (raw
key/value text, headers, topic). Everything it created is removed afterwards.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
from confluent_kafka import Consumer

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from cdc.client import ConnectClient  # noqa: E402
from cdc.debezium import (  # noqa: E402
    DatabaseOptions,
    HeartbeatOptions,
    OutboxOptions,
    PostgresConnectorOptions,
    build_postgres_config,
    heartbeat_table_ddl,
)
from rehearsal.stack.endpoints import Endpoints, load_endpoints  # noqa: E402
from rehearsal.stack.pgadmin import create_database, drop_database  # noqa: E402

OUT = Path(__file__).resolve().parent

DDL = [
    "create table items (id int primary key, name text not null, qty int not null, "
    "price numeric(10,2) not null)",
    "create table docs (id int primary key, title text not null, body text not null)",
    "alter table docs replica identity default",
    "create table outbox (id uuid primary key, aggregatetype varchar(255) not null, "
    "aggregateid varchar(255) not null, type varchar(255) not null, payload jsonb not null, "
    "correlation_id varchar(255), causation_id varchar(255), "
    "aggregate_version integer not null default 0, "
    "created_at timestamptz not null default now())",
    heartbeat_table_ddl(),
]


def options(ep: Endpoints, db: str, tag: str, suffix: str, **kw: Any) -> PostgresConnectorOptions:
    return PostgresConnectorOptions(
        database=DatabaseOptions("127.0.0.1", ep.pg_port, ep.pg_user, db, ep.pg_password),
        topic_prefix=f"rec{tag}{suffix}",
        slot_name=f"rec{tag}_{suffix}",
        publication_name=f"rec{tag}_{suffix}",
        heartbeat=HeartbeatOptions(interval_ms=1000),
        **kw,
    )


def consume(prefixes: list[str], done: Any, timeout_s: float, ep: Endpoints) -> list[Any]:
    consumer = Consumer(
        {
            "bootstrap.servers": ep.bootstrap_servers,
            "group.id": f"rec-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "topic.metadata.refresh.interval.ms": 1000,
        }
    )
    patterns = [f"^{p.replace('.', '[.]')}[.].*" for p in prefixes]
    patterns += [f"^__debezium-heartbeat[.]{p}$" for p in prefixes]
    consumer.subscribe(patterns)
    got: list[Any] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not done(got):
        msg = consumer.poll(0.5)
        if msg is None or msg.error():
            continue
        got.append(msg)
    print(f"consumed {len(got)} messages:", sorted({m.topic() for m in got}))
    consumer.close()
    return got


def to_record(msg: Any) -> dict[str, Any]:
    def text(b: bytes | None) -> str | None:
        return None if b is None else b.decode()

    return {
        "topic": msg.topic(),
        "key": text(msg.key()),
        "value": text(msg.value()),
        "headers": [[k, text(v)] for k, v in (msg.headers() or [])],
        "timestamp_ms": msg.timestamp()[1],
    }


def main() -> None:
    ep = load_endpoints()
    suffix = uuid.uuid4().hex[:8]
    db = f"rec_{suffix}"
    client = ConnectClient.from_url(ep.connect_url)
    create_database(ep, db)
    names: list[str] = []
    try:
        with psycopg.connect(ep.dsn(db), autocommit=True) as conn:
            for stmt in DDL:
                conn.execute(stmt)
            conn.execute("insert into items values (1, 'apple', 3, 1.25), (2, 'pear', 5, 2.50)")
            body = conn.execute(
                "select string_agg(md5(random()::text), '') from generate_series(1, 1000)"
            ).fetchone()
            assert body is not None
            conn.execute("insert into docs values (1, 'first', %s)", (body[0],))
            plain = options(
                ep,
                db,
                "p",
                suffix,
                tables=("public.items", "public.docs"),
                outbox=None,
                tombstones_on_delete=True,
                transaction_metadata=True,
            )
            schema = options(
                ep,
                db,
                "s",
                suffix,
                tables=("public.items", "public.docs"),
                outbox=None,
                schemas_enable=True,
                extra={"decimal.handling.mode": "precise"},
            )
            outbox = options(
                ep, db, "o", suffix, outbox=OutboxOptions(topic_prefix=f"recoe{suffix}")
            )
            for tag, opts in (("p", plain), ("s", schema), ("o", outbox)):
                name = f"rec-{tag}-{suffix}"
                client.create_connector(name, build_postgres_config(opts))
                names.append(name)
            for name in names:
                client.wait_for(name, "RUNNING", timeout_s=60)
            time.sleep(3)  # let the snapshots finish
            conn.execute("insert into items values (3, 'plum', 7, 0.99)")
            conn.execute("update items set qty = 8, price = 1.05 where id = 3")
            conn.execute("update docs set title = 'renamed' where id = 1")  # body stays TOASTed
            conn.execute("delete from items where id = 2")
            conn.execute("select pg_logical_emit_message(true, 'cutover', 'hello')")
            order_id = str(uuid.uuid4())
            conn.execute(
                "insert into outbox (id, aggregatetype, aggregateid, type, payload, correlation_id,"
                " causation_id, aggregate_version)"
                " values (%s, 'order', %s, 'order.created', %s, 'corr-1', null, 1)",
                (str(uuid.uuid4()), order_id, json.dumps({"order_id": order_id, "total": "12.50"})),
            )
        cases = wanted_cases(plain.topic_prefix, schema.topic_prefix, f"recoe{suffix}")
        prefixes = [plain.topic_prefix, schema.topic_prefix, outbox.topic_prefix, f"recoe{suffix}"]
        msgs = consume(prefixes, lambda got: all(find(got, p) for p in cases.values()), 60, ep)
        write_cases(msgs, cases)
    finally:
        for name in names:
            client.delete_connector(name)
        drop_database(ep, db)


def find(msgs: list[Any], pred: Any) -> dict[str, Any] | None:
    for msg in msgs:
        rec = to_record(msg)
        value = json.loads(rec["value"]) if rec["value"] else None
        payload = (
            value.get("payload", value) if isinstance(value, dict) and "schema" in value else value
        )
        if pred(rec, payload):
            return rec
    return None


def write_cases(msgs: list[Any], cases: dict[str, Any]) -> None:
    for case, pred in cases.items():
        rec = find(msgs, pred)
        if rec is None:
            print(f"MISSING {case}")
            continue
        rec["case"] = case
        (OUT / f"{case}.json").write_text(json.dumps(rec, indent=2, sort_keys=True) + "\n")
        print(f"wrote {case}.json from {rec['topic']}")


def wanted_cases(plain: str, schema: str, outbox: str) -> dict[str, Any]:
    def op(prefix: str, table: str, o: str, extra: Any = lambda p: True) -> Any:
        return lambda r, p: (
            r["topic"] == f"{prefix}.public.{table}"
            and p is not None
            and p.get("op") == o
            and extra(p)
        )

    cases = {
        "snapshot_read": op(plain, "items", "r"),
        "create": op(plain, "items", "c"),
        "update": op(plain, "items", "u"),
        "delete": op(plain, "items", "d"),
        "tombstone": lambda r, p: r["topic"] == f"{plain}.public.items" and r["value"] is None,
        "toast_update": op(plain, "docs", "u"),
        "message": lambda r, p: r["topic"] == f"{plain}.message",
        "transaction_begin": lambda r, p: (
            r["topic"] == f"{plain}.transaction" and p["status"] == "BEGIN"
        ),
        "transaction_end": lambda r, p: (
            r["topic"] == f"{plain}.transaction" and p["status"] == "END"
        ),
        "heartbeat": lambda r, p: r["topic"] == f"__debezium-heartbeat.{plain}",
        "schema_snapshot_read": op(schema, "items", "r"),
        "schema_create": op(schema, "items", "c"),
        "schema_update": op(schema, "items", "u"),
        "schema_toast_update": op(schema, "docs", "u"),
        "schema_delete": op(schema, "items", "d"),
        "outbox_event": lambda r, p: r["topic"] == f"{outbox}.order",
    }
    return cases


if __name__ == "__main__":
    main()
