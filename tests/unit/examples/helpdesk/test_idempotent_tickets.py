"""The helpdesk's POST /tickets with an Idempotency-Key (keys in cutover's table on SQLite)."""

from __future__ import annotations

from pathlib import Path

import cutover
from tests.unit.examples.helpdesk.test_app import REQUESTER, Helpdesk

BODY = {"title": "Printer on fire", "body": "It smokes.", "requester": REQUESTER}


def test_a_repeated_open_returns_the_first_ticket_and_opens_no_second(tmp_path: Path) -> None:
    helpdesk = Helpdesk(tmp_path, {"notification": "dual"})
    cutover.init_state(helpdesk.engine)
    key = {"Idempotency-Key": "open-1"}
    first = helpdesk.client.post("/tickets", json=BODY, headers=key)
    again = helpdesk.client.post("/tickets", json=BODY, headers=key)
    other = helpdesk.client.post("/tickets", json={**BODY, "title": "Other"}, headers=key)
    assert (first.status_code, again.status_code, other.status_code) == (201, 201, 422)
    assert again.get_data() == first.get_data()
    assert len(helpdesk.outbox()) == 1
    assert len(helpdesk.notifier.sent) == 1


def test_a_body_nested_too_deep_is_a_400(tmp_path: Path) -> None:
    helpdesk = Helpdesk(tmp_path)
    resp = helpdesk.client.post(
        "/tickets", data="[" * 1000 + "]" * 1000, headers={"Content-Type": "application/json"}
    )
    assert (resp.status_code, resp.get_json()) == (
        400,
        {"error": "JSON body nested deeper than 64 levels"},
    )
