"""The helpdesk's shadow handlers, through cutover's harness (no Kafka, no PostgreSQL)."""

from __future__ import annotations

from typing import Any

from cutover.shadow_testing import ShadowHarness
from examples.helpdesk.shadow import app

REQUESTER = "riley@customer.example"
AGENT = "ada@helpdesk.example"


def snapshot(status: str, version: int, assignee: str | None = None) -> dict[str, Any]:
    return {"ticket_id": "t-1", "title": "Printer on fire", "body": "It smokes.",
            "requester": REQUESTER, "status": status, "assignee": assignee, "version": version}  # fmt: skip


def requested(change: str, assignee: str | None = None) -> dict[str, Any]:
    return {"ticket_id": "t-1", "change": change, "title": "Printer on fire",
            "requester": REQUESTER, "assignee": assignee}  # fmt: skip


def test_each_change_derives_the_notice_the_sync_path_sends() -> None:
    h = ShadowHarness(app)
    h.send("notification.requested", requested("opened"), key="t-1")
    h.send("notification.requested", requested("assigned", AGENT), key="t-1")
    h.send("notification.requested", requested("resolved", AGENT), key="t-1")
    h.run()
    rows = h.query("SELECT template, recipient, mode FROM hd_notices ORDER BY template")
    assert rows == [
        {"template": "ticket_assigned", "recipient": AGENT, "mode": "dual"},
        {"template": "ticket_received", "recipient": REQUESTER, "mode": "dual"},
        {"template": "ticket_resolved", "recipient": REQUESTER, "mode": "dual"},
    ]


def test_in_dual_the_notice_is_recorded_and_nothing_is_sent() -> None:
    h = ShadowHarness(app, mode="dual")
    h.send("notification.requested", requested("opened"), key="t-1")
    h.run()
    assert [(e["name"], e["outcome"]) for e in h.effects()] == [("notifier", "recorded")]
    assert h.performed_calls() == 0


def test_in_async_the_notice_is_sent_with_the_events_idempotency_key() -> None:
    h = ShadowHarness(app, mode="async")
    keys: list[str] = []
    h.on_effect("notifier", lambda key: keys.append(key) or {"status": "sent"})
    eid = h.send("notification.requested", requested("opened"), key="t-1")
    h.run()
    assert keys == [f"{eid}:notifier"]
    assert [e["outcome"] for e in h.effects()] == ["performed"]


def test_a_redelivered_notice_is_kept_once() -> None:
    h = ShadowHarness(app)
    eid = h.send("notification.requested", requested("opened"), key="t-1")
    h.run()
    for _ in range(5):
        h.redeliver(eid)
    h.run()
    assert h.query("SELECT count(*) AS n FROM hd_notices") == [{"n": 1}]


def test_the_search_document_follows_the_newest_version_of_the_ticket() -> None:
    h = ShadowHarness(app)
    h.send("ticket.opened", snapshot("open", 1), key="t-1")
    h.send("ticket.assigned", snapshot("assigned", 2, AGENT), key="t-1")
    h.send("ticket.resolved", snapshot("resolved", 3, AGENT), key="t-1")
    h.run()
    assert h.query("SELECT status, assignee, version FROM hd_search_documents") == [
        {"status": "resolved", "assignee": AGENT, "version": 3}
    ]
    assert h.query("SELECT status, version FROM hd_tickets") == [
        {"status": "resolved", "version": 3}
    ]


def test_an_older_version_never_replaces_a_newer_document() -> None:
    h = ShadowHarness(app)
    h.send("ticket.assigned", snapshot("assigned", 2, AGENT), key="t-1")
    h.run()
    h.send("ticket.opened", snapshot("open", 1), key="t-1")
    h.run()
    assert h.query("SELECT status, version FROM hd_search_documents") == [
        {"status": "assigned", "version": 2}
    ]


def test_the_document_keeps_the_mode_of_the_tickets_first_event() -> None:
    h = ShadowHarness(app)
    h.send("ticket.opened", snapshot("open", 1), key="t-1", mode="dual")
    h.send("ticket.assigned", snapshot("assigned", 2, AGENT), key="t-1", mode="async")
    h.on_effect("search_index", lambda key: {"status": "indexed"})
    h.run()
    assert h.query("SELECT write_mode FROM hd_search_documents") == [{"write_mode": "dual"}]


def test_in_async_the_document_is_indexed_once_per_event() -> None:
    h = ShadowHarness(app, mode="async")
    keys: list[str] = []
    h.on_effect("search_index", lambda key: keys.append(key) or {"status": "indexed"})
    eid = h.send("ticket.opened", snapshot("open", 1), key="t-1")
    h.run()
    h.redeliver(eid)
    h.run()
    assert keys == [f"{eid}:search_index"]


def test_a_payload_breaking_its_contract_is_dead_lettered() -> None:
    h = ShadowHarness(app)
    h.send("ticket.opened", {**snapshot("open", 1), "requester": "not an address"}, key="t-1")
    h.run()
    assert [d.kind for d in h.dead_letters()] == ["schema_invalid"]
    assert h.query("SELECT count(*) AS n FROM hd_search_documents") == [{"n": 0}]


def test_a_ticket_without_an_assignee_arrives_without_the_field() -> None:
    # Debezium's expanded JSON payload leaves out fields whose value is null
    h = ShadowHarness(app)
    opened = {k: v for k, v in snapshot("open", 1).items() if k != "assignee"}
    h.send("ticket.opened", opened, key="t-1")
    h.send("notification.requested", requested("opened"), key="t-1")
    h.send(
        "notification.requested",
        {k: v for k, v in requested("resolved").items() if k != "assignee"},
        key="t-1",
    )
    h.run()
    assert h.dead_letters() == []
    assert h.query("SELECT assignee FROM hd_search_documents") == [{"assignee": None}]
    assert h.query("SELECT template FROM hd_notices ORDER BY template") == [
        {"template": "ticket_received"},
        {"template": "ticket_resolved"},
    ]
