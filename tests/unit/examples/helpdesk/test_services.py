"""The notifier and the search index (Flask test clients on SQLite)."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask.testing import FlaskClient

from examples.helpdesk.schema import create_schema, make_engine
from examples.helpdesk.services import create_notifier_app, create_search_app

NOTICE = {"ticket_id": "t-1", "template": "ticket_received",
          "recipient": "riley@customer.example", "subject": "We received your request"}  # fmt: skip
DOC = {"ticket_id": "t-1", "title": "Printer", "body": "smokes", "status": "open",
       "assignee": None, "version": 1}  # fmt: skip


@pytest.fixture
def url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'services.db'}"
    create_schema(make_engine(url), seed=False)
    return url


def notifier(url: str, error_rate: float = 0.0) -> FlaskClient:
    cfg = {"database_url": url, "fault_error_rate": error_rate}
    return create_notifier_app(cfg, environ={}, rng=lambda: 0.0).test_client()


def test_a_notice_is_sent_once_per_idempotency_key(url: str) -> None:
    client = notifier(url)
    first = client.post("/notifications", json=NOTICE, headers={"Idempotency-Key": "k1"})
    again = client.post("/notifications", json=NOTICE, headers={"Idempotency-Key": "k1"})
    assert (first.status_code, again.status_code) == (201, 200)


def test_a_notice_without_an_idempotency_key_is_refused(url: str) -> None:
    assert notifier(url).post("/notifications", json=NOTICE).status_code == 422


def test_the_notifiers_dry_run_says_what_it_would_send(url: str) -> None:
    resp = notifier(url).post("/notifications/verify", json=NOTICE)
    assert resp.get_json() == {"template": "ticket_received",
                               "recipient": "riley@customer.example", "status": "would_send"}  # fmt: skip


def test_an_injected_fault_answers_500_before_sending(url: str) -> None:
    resp = notifier(url, 1.0).post("/notifications", json=NOTICE, headers={"Idempotency-Key": "k"})
    assert resp.status_code == 500
    assert (
        notifier(url)
        .post("/notifications", json=NOTICE, headers={"Idempotency-Key": "k"})
        .status_code
        == 201
    )


def test_the_index_keeps_the_newest_version(url: str) -> None:
    client = create_search_app({"database_url": url}, environ={}).test_client()
    client.post(
        "/documents",
        json={**DOC, "version": 2, "status": "assigned"},
        headers={"Idempotency-Key": "a"},
    )
    client.post("/documents", json=DOC, headers={"Idempotency-Key": "b"})
    answer = client.post("/documents/verify", json=DOC).get_json()
    assert answer["dry_run"] is True
    from sqlalchemy import text

    with make_engine(url).connect() as conn:
        rows = conn.execute(text("SELECT status, version FROM search_documents")).all()
    assert [tuple(r) for r in rows] == [("assigned", 2)]
