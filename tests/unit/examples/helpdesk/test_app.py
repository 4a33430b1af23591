"""The helpdesk over Flask's test client: SQLite, in-memory services, modes set by the test."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

import cutover
from examples.helpdesk.app import create_app
from examples.helpdesk.clients import MemoryNotifier, MemorySearchIndex
from examples.helpdesk.models import OutboxRow
from examples.helpdesk.schema import create_schema, make_engine

REQUESTER = "riley@customer.example"


class Modes:
    """Each context's mode, set by the test (``sync`` unless set)."""

    def __init__(self, modes: Mapping[str, str] | None = None) -> None:
        self.modes = {k: cutover.Mode(v) for k, v in (modes or {}).items()}

    def mode(self, context: str) -> cutover.Mode:
        return self.modes.get(context, cutover.Mode.SYNC)


class Helpdesk:
    def __init__(self, tmp_path: Path, modes: Mapping[str, str] | None = None) -> None:
        url = f"sqlite:///{tmp_path / 'helpdesk.db'}"
        self.engine = make_engine(url)
        create_schema(self.engine)
        self.notifier = MemoryNotifier()
        self.search = MemorySearchIndex()
        self.ledger = cutover.MemoryLedger()
        self.modes = Modes(modes)
        app = create_app(
            {"database_url": url}, environ={}, notifier=self.notifier, search=self.search,
            modes=self.modes, ledger=self.ledger,
        )  # fmt: skip
        self.client: FlaskClient = app.test_client()

    def open(self) -> dict[str, Any]:
        body = {"title": "Printer on fire", "body": "It smokes.", "requester": REQUESTER}
        resp = self.client.post("/tickets", json=body, headers={"X-Correlation-ID": "corr-1"})
        assert resp.status_code == 201, resp.get_json()
        data: dict[str, Any] = resp.get_json()
        return data

    def outbox(self) -> list[tuple[str, str, str | None, str | None]]:
        with Session(self.engine) as session:
            rows = session.scalars(select(OutboxRow).order_by(OutboxRow.created_at)).all()
            return [(r.type, r.aggregateid, r.mode, r.correlation_id) for r in rows]


@pytest.fixture
def helpdesk(tmp_path: Path) -> Helpdesk:
    return Helpdesk(tmp_path)


def test_in_sync_a_new_ticket_calls_both_services_and_writes_no_event(helpdesk: Helpdesk) -> None:
    ticket = helpdesk.open()
    assert [n.template for n in helpdesk.notifier.sent.values()] == ["ticket_received"]
    assert helpdesk.search.documents[ticket["ticket_id"]]["status"] == "open"
    assert helpdesk.outbox() == []


def test_in_dual_each_context_writes_its_event_stamped_with_its_own_mode(tmp_path: Path) -> None:
    helpdesk = Helpdesk(tmp_path, {"notification": "dual", "search": "sync"})
    ticket = helpdesk.open()
    assert helpdesk.outbox() == [("notification.requested", ticket["ticket_id"], "dual", "corr-1")]
    assert len(helpdesk.notifier.sent) == 1


def test_in_async_the_sync_calls_become_verify_runs(tmp_path: Path) -> None:
    helpdesk = Helpdesk(tmp_path, {"notification": "async", "search": "async"})
    ticket = helpdesk.open()
    assert helpdesk.notifier.sent == {}
    assert helpdesk.search.documents == {}
    verified = {(r.context, r.operation, r.key) for r in helpdesk.ledger.verified}
    assert verified == {
        ("notification", "notify_opened", ticket["ticket_id"]),
        ("search", "index_opened", ticket["ticket_id"]),
    }
    assert {t for t, *_ in helpdesk.outbox()} == {"notification.requested", "ticket.opened"}


def test_a_whole_ticket_life_writes_versions_one_to_three(tmp_path: Path) -> None:
    helpdesk = Helpdesk(tmp_path, {"notification": "dual", "search": "dual"})
    tid = helpdesk.open()["ticket_id"]
    assert helpdesk.client.post(f"/tickets/{tid}/assign", json={"agent_id": 1}).status_code == 200
    resp = helpdesk.client.post(f"/tickets/{tid}/resolve", json={"resolution": "Unplugged it."})
    assert resp.get_json()["version"] == 3
    types = [t for t, *_ in helpdesk.outbox() if t.startswith("ticket.")]
    assert types == ["ticket.opened", "ticket.assigned", "ticket.resolved"]
    assert sorted(n.template for n in helpdesk.notifier.sent.values()) == [
        "ticket_assigned", "ticket_received", "ticket_resolved",
    ]  # fmt: skip


def test_in_events_only_a_direct_sync_call_is_blocked_and_recorded(tmp_path: Path) -> None:
    helpdesk = Helpdesk(tmp_path, {"notification": "events-only", "search": "events-only"})
    tid = helpdesk.open()["ticket_id"]
    resp = helpdesk.client.post(f"/tickets/{tid}/reindex")
    assert resp.status_code == 409
    assert [(b.context, b.operation, b.key) for b in helpdesk.ledger.blocked] == [
        ("search", "reindex", tid)
    ]
    assert helpdesk.search.documents == {}


def test_a_failing_sync_call_rolls_the_ticket_back(helpdesk: Helpdesk) -> None:
    helpdesk.search.failing = True
    body = {"title": "Printer on fire", "body": "It smokes.", "requester": REQUESTER}
    resp = helpdesk.client.post("/tickets", json=body)
    assert resp.status_code == 502
    assert helpdesk.client.get("/health").status_code == 200
    with Session(helpdesk.engine) as session:
        assert session.execute(select(OutboxRow)).first() is None


def test_a_resolved_ticket_cannot_be_assigned(helpdesk: Helpdesk) -> None:
    tid = helpdesk.open()["ticket_id"]
    helpdesk.client.post(f"/tickets/{tid}/resolve", json={"resolution": "Done."})
    resp = helpdesk.client.post(f"/tickets/{tid}/assign", json={"agent_id": 1})
    assert resp.status_code == 409


def test_a_bad_body_gets_its_reasons(helpdesk: Helpdesk) -> None:
    resp = helpdesk.client.post("/tickets", json={"title": "", "requester": "nobody"})
    assert resp.status_code == 422
    assert {tuple(d["loc"]) for d in resp.get_json()["details"]} == {
        ("title",), ("body",), ("requester",),
    }  # fmt: skip


def test_the_ticket_view_shows_its_history(helpdesk: Helpdesk) -> None:
    tid = helpdesk.open()["ticket_id"]
    helpdesk.client.post(f"/tickets/{tid}/assign", json={"agent_id": 2})
    view = helpdesk.client.get(f"/tickets/{tid}").get_json()
    assert view["assignee"] == "grace@helpdesk.example"
    assert [h["kind"] for h in view["history"]] == ["opened", "assigned"]


def test_an_unknown_ticket_is_not_found(helpdesk: Helpdesk) -> None:
    assert helpdesk.client.get("/tickets/nope").status_code == 404
