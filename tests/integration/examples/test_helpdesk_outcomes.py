"""The helpdesk plan's outcome queries on the real PostgreSQL: each side of each context
returns the key, ``produced_at`` and the same record for the same ticket."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine, create_engine, text

import cutover
from examples.helpdesk.schema import create_all
from examples.helpdesk.shadow import TABLES
from rehearsal.stack.endpoints import Endpoints

PLAN = Path(__file__).resolve().parents[3] / "examples" / "helpdesk" / "plan.yaml"
REQUESTER = "riley@customer.example"


@pytest.fixture
def engine(endpoints: Endpoints, fresh_database: str) -> Iterator[Engine]:
    url = endpoints.database_url(fresh_database)
    create_all(url)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE SCHEMA shadow"))
        conn.execute(text("SET LOCAL search_path TO shadow"))
        for ddl in TABLES:
            conn.execute(text(ddl))
    yield engine
    engine.dispose()


def outcome(context: str, side: str) -> str:
    plan = yaml.safe_load(PLAN.read_text())
    sql: str = plan["contexts"][context]["outcome"][f"{side}_query"]
    return sql


def rows(engine: Engine, sql: str) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(text(sql)).mappings()]


def outbox_row(conn: Any, aggregate: str, ticket: str, event_type: str) -> None:
    conn.execute(
        text("INSERT INTO outbox (id, aggregatetype, aggregateid, type, payload, "
             "aggregate_version, mode) VALUES (:id, :a, :t, :ty, '{}', 1, 'dual')"),
        {"id": uuid.uuid4(), "a": aggregate, "t": ticket, "ty": event_type},
    )  # fmt: skip


def test_the_notification_sides_agree_on_a_ticket_written_in_dual(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO notifications_sent (ticket_id, template, recipient, subject, "
                 "idempotency_key) VALUES ('t-1', 'ticket_received', :r, 's', 't-1:opened')"),
            {"r": REQUESTER},
        )  # fmt: skip
        outbox_row(conn, "notification", "t-1", "notification.requested")
        conn.execute(
            text("INSERT INTO shadow.hd_notices (event_id, ticket_id, change, template, "
                 "recipient, subject, mode, status) VALUES ('e1', 't-1', 'opened', "
                 "'ticket_received', :r, 's', 'dual', 'sent')"),
            {"r": REQUESTER},
        )  # fmt: skip
    cutover.SqlLedger(engine).record_verify(
        cutover.VerifyRecord(
            "notification",
            "notify_opened",
            "t-1",
            "dry-run",
            {"template": "ticket_received", "recipient": REQUESTER},
        )
    )
    sync, event = (
        rows(engine, outcome("notification", "sync")),
        rows(engine, outcome("notification", "event")),
    )
    verify = rows(engine, outcome("notification", "verify"))
    expected = [{"template": "ticket_received", "recipient": REQUESTER}]
    assert [(r["ticket_id"], r["notices"], r["write_mode"]) for r in sync] == [
        ("t-1", expected, "dual")
    ]
    assert [(r["ticket_id"], r["notices"], r["write_mode"]) for r in event] == [
        ("t-1", expected, "dual")
    ]
    assert [(r["ticket_id"], r["notices"], r["inconclusive"]) for r in verify] == [
        ("t-1", expected, False)
    ]
    assert all(r["produced_at"] is not None for r in [*sync, *event, *verify])


def test_the_search_sides_agree_on_a_ticket_written_in_dual(engine: Engine) -> None:
    doc = {"t": "t-2", "title": "Printer", "body": "smokes", "status": "assigned",
           "assignee": "ada@helpdesk.example", "version": 2}  # fmt: skip
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO search_documents (ticket_id, title, body, status, assignee, "
                 "version) VALUES (:t, :title, :body, :status, :assignee, :version)"), doc,
        )  # fmt: skip
        outbox_row(conn, "ticket", "t-2", "ticket.opened")
        conn.execute(
            text("INSERT INTO shadow.hd_search_documents (ticket_id, title, body, status, "
                 "assignee, version, write_mode) VALUES (:t, :title, :body, :status, "
                 ":assignee, :version, 'dual')"), doc,
        )  # fmt: skip
    ledger = cutover.SqlLedger(engine)
    for version, status in ((1, "open"), (2, "assigned")):
        answer = {"ticket_id": "t-2", "title": "Printer", "body": "smokes", "status": status,
                  "assignee": doc["assignee"] if version == 2 else None, "version": version}  # fmt: skip
        ledger.record_verify(cutover.VerifyRecord("search", "index", "t-2", "dry-run", answer))
    fields = ("ticket_id", "title", "body", "status", "assignee", "version")
    sync, event = rows(engine, outcome("search", "sync")), rows(engine, outcome("search", "event"))
    verify = rows(engine, outcome("search", "verify"))
    expected = ("t-2", "Printer", "smokes", "assigned", "ada@helpdesk.example", 2)
    assert [tuple(r[f] for f in fields) for r in sync] == [expected]
    assert [tuple(r[f] for f in fields) for r in event] == [expected]
    assert [tuple(r[f] for f in fields) for r in verify] == [expected]
    assert (sync[0]["write_mode"], event[0]["write_mode"]) == ("dual", "dual")
