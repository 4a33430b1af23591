"""The helpdesk's shadow side: ``cutover shadow run --app examples.helpdesk.shadow:app``.

From the events it derives what the sync path does (the same rules, :mod:`.rules`):

* ``notification.requested`` → the notice the notifier would send (effect ``notifier``),
  kept in ``hd_notices`` — the ``notification`` context's event-side outcome;
* ``ticket.opened`` / ``ticket.assigned`` / ``ticket.resolved`` → the ticket read model
  ``hd_tickets`` and the search document (effect ``search_index``) in
  ``hd_search_documents`` — the ``search`` context's event-side outcome.

Effects follow each event's mode: recorded in ``dual``, performed over HTTP in ``async`` and
``events-only`` (with the event's idempotency key). The services' URLs come from
``HELPDESK_NOTIFIER_URL`` and ``HELPDESK_SEARCH_URL`` (:mod:`.config`). Writes use the batch
form (``tx.write``): a newer version of a ticket is never overwritten by an older one, and
each row remembers the mode of the ticket's first event (its ``write_mode``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cutover.shadow import Event, Handle, ShadowApp
from examples.helpdesk.clients import HttpNotifier, HttpSearchIndex
from examples.helpdesk.config import load_config
from examples.helpdesk.rules import Notice, TicketSnapshot, notice_for, search_document

CONTRACTS = Path(__file__).resolve().parent / "contracts"
TABLES = (
    "CREATE TABLE IF NOT EXISTS hd_tickets (ticket_id varchar(36) PRIMARY KEY, "
    "title varchar(200) NOT NULL, body text NOT NULL, requester varchar(320) NOT NULL, "
    "status varchar(20) NOT NULL, assignee varchar(320), version integer NOT NULL, "
    "updated_at timestamp with time zone NOT NULL DEFAULT CURRENT_TIMESTAMP)",
    "CREATE TABLE IF NOT EXISTS hd_search_documents (ticket_id varchar(36) PRIMARY KEY, "
    "title varchar(200) NOT NULL, body text NOT NULL, status varchar(20) NOT NULL, "
    "assignee varchar(320), version integer NOT NULL, write_mode varchar(20), "
    "indexed_at timestamp with time zone NOT NULL DEFAULT CURRENT_TIMESTAMP)",
    "CREATE TABLE IF NOT EXISTS hd_notices (event_id varchar(64) PRIMARY KEY, "
    "ticket_id varchar(36) NOT NULL, change varchar(20) NOT NULL, template varchar(60) NOT NULL, "
    "recipient varchar(320) NOT NULL, subject varchar(300) NOT NULL, mode varchar(20), "
    "status varchar(20) NOT NULL, "
    "noticed_at timestamp with time zone NOT NULL DEFAULT CURRENT_TIMESTAMP)",
)

app = ShadowApp(
    "helpdesk",
    contracts=CONTRACTS,
    topics=("outbox.event.ticket", "outbox.event.notification"),
    tables=TABLES,
)

UPSERT_TICKET = (
    "INSERT INTO hd_tickets (ticket_id, title, body, requester, status, assignee, version) "
    "VALUES (:ticket_id, :title, :body, :requester, :status, :assignee, :version) "
    "ON CONFLICT (ticket_id) DO UPDATE SET title = excluded.title, body = excluded.body, "
    "status = excluded.status, assignee = excluded.assignee, version = excluded.version, "
    "updated_at = CURRENT_TIMESTAMP WHERE hd_tickets.version < excluded.version"
)
UPSERT_DOCUMENT = (
    "INSERT INTO hd_search_documents (ticket_id, title, body, status, assignee, version, "
    "write_mode) VALUES (:ticket_id, :title, :body, :status, :assignee, :version, :mode) "
    "ON CONFLICT (ticket_id) DO UPDATE SET title = excluded.title, body = excluded.body, "
    "status = excluded.status, assignee = excluded.assignee, version = excluded.version, "
    "indexed_at = CURRENT_TIMESTAMP WHERE hd_search_documents.version < excluded.version"
)
INSERT_NOTICE = (
    "INSERT INTO hd_notices (event_id, ticket_id, change, template, recipient, subject, mode, "
    "status) VALUES (:event_id, :ticket_id, :change, :template, :recipient, :subject, :mode, "
    ":status) ON CONFLICT (event_id) DO NOTHING"
)


def _send(notice: Notice, key: str) -> dict[str, Any]:
    cfg = load_config()
    return HttpNotifier(cfg.notifier_url, cfg.http_timeout).send(notice, idempotency_key=key)


def _index(document: dict[str, Any], key: str) -> dict[str, Any]:
    cfg = load_config()
    return HttpSearchIndex(cfg.search_url, cfg.http_timeout).index(document, idempotency_key=key)


@app.handler("notification.requested")
def notification_requested(event: Event, tx: Handle) -> None:
    """The notice a ticket's change sends: recorded in ``dual``, sent in ``async``."""
    p = event.payload
    notice = notice_for(p["change"], p["ticket_id"], p["title"], p["requester"], p.get("assignee"))
    answer = tx.effect(
        "notifier",
        lambda key: _send(notice, key),
        intended={**notice.to_dict(), "status": "sent"},
        request=notice.to_dict(),
    )
    tx.write(
        INSERT_NOTICE,
        {**notice.to_dict(), "event_id": event.id, "change": p["change"],
         "mode": event.mode or None, "status": str(answer.get("status", "sent"))},
    )  # fmt: skip


def ticket_changed(event: Event, tx: Handle) -> None:
    """The ticket read model and its search document (recorded or indexed)."""
    ticket = TicketSnapshot.from_dict(event.payload)
    document = search_document(ticket)
    tx.effect(
        "search_index",
        lambda key: _index(document, key),
        intended={"ticket_id": ticket.ticket_id, "status": "indexed"},
        request=document,
    )
    tx.write(UPSERT_TICKET, ticket.to_dict())
    tx.write(UPSERT_DOCUMENT, {**document, "mode": event.mode or None})


for _type in ("ticket.opened", "ticket.assigned", "ticket.resolved"):
    app.handler(_type)(ticket_changed)
