"""The helpdesk's writes: open, assign and resolve a ticket — and what each tells the others.

Each write changes the ticket's rows, then, in the **same transaction**, runs two contexts
through ``cutover.Migration`` (:class:`Contexts`):

* ``notification`` — the sync call e-mails the requester or the assignee (the notifier); the
  event path writes ``notification.requested`` to the outbox;
* ``search`` — the sync call indexes the ticket's text (the search index); the event path
  writes ``ticket.opened`` / ``ticket.assigned`` / ``ticket.resolved``.

Each outbox row is stamped with its own context's mode, so the shadow handlers record or
perform each effect as that context says. In ``async`` the sync call runs as a dry run
(``verify``) and is recorded; in ``events-only`` it is not made at all, and a direct call
(:func:`reindex_ticket`) is refused and recorded as blocked (``Migration.call_sync``). A sync call that fails in ``sync``
or ``dual`` raises :class:`~examples.helpdesk.errors.DownstreamFailed`: the ticket's
transaction rolls back, as it did before cutover.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

import cutover
from examples.helpdesk.clients import Notifier, SearchIndex
from examples.helpdesk.errors import TicketNotFound, TransitionRefused
from examples.helpdesk.models import Agent, Ticket, TicketEvent, now
from examples.helpdesk.rules import Change, TicketSnapshot, notice_for, search_document

NOTIFICATION = "notification"
SEARCH = "search"
CONTEXTS: tuple[str, ...] = (NOTIFICATION, SEARCH)
"""The helpdesk's bounded contexts (its plan names the same)."""

ALLOWED: dict[Change, frozenset[str]] = {
    "opened": frozenset(),
    "assigned": frozenset({"open", "assigned"}),
    "resolved": frozenset({"open", "assigned"}),
}


class ContextModes(Protocol):
    """Port: a context's current mode (a ``cutover.ModeSwitch`` is one)."""

    def mode(self, context: str) -> cutover.Mode: ...


class Contexts:
    """A ``cutover.Migration`` and an outbox stamping its mode, per context."""

    def __init__(
        self,
        modes: ContextModes,
        ledger: cutover.Ledger,
        *,
        outbox: cutover.Outbox | None = None,
        verify_timeout: float = 2.0,
    ) -> None:
        base = outbox or cutover.Outbox()
        self.modes = modes
        self.migrations = {
            c: cutover.Migration(c, modes, ledger, verify_timeout=verify_timeout) for c in CONTEXTS
        }
        self.outboxes = {c: dataclasses.replace(base, mode=self._stamp(c)) for c in CONTEXTS}

    def _stamp(self, context: str) -> Callable[[], str]:
        return lambda: self.modes.mode(context).value


@dataclass(frozen=True, slots=True)
class Deps:
    """What the writes need: sessions, the two services, the contexts."""

    sessions: sessionmaker[Session]
    notifier: Notifier
    search: SearchIndex
    contexts: Contexts


def open_ticket(deps: Deps, title: str, body: str, requester: str) -> TicketSnapshot:
    """Open a ticket; the requester is told, the text is indexed."""
    with deps.sessions() as session, session.begin():
        ticket = Ticket(id=str(uuid.uuid4()), title=title, body=body, requester=requester,
                        status="open", version=1)  # fmt: skip
        session.add(ticket)
        session.flush()
        return _changed(deps, session, ticket, "opened", None)


def assign_ticket(deps: Deps, ticket_id: str, agent_id: int) -> TicketSnapshot:
    """Assign a ticket to an agent; the agent is told, the index shows the assignee."""
    with deps.sessions() as session, session.begin():
        ticket = _locked(session, ticket_id, "assigned")
        agent = session.get(Agent, agent_id)
        if agent is None:
            raise TicketNotFound("agent", str(agent_id))
        ticket.assignee_id = agent.id
        ticket.status = "assigned"
        return _changed(deps, session, ticket, "assigned", agent.id)


def resolve_ticket(deps: Deps, ticket_id: str, resolution: str) -> TicketSnapshot:
    """Resolve a ticket; the requester is told, the index shows it resolved."""
    with deps.sessions() as session, session.begin():
        ticket = _locked(session, ticket_id, "resolved")
        ticket.status = "resolved"
        ticket.resolution = resolution
        return _changed(deps, session, ticket, "resolved", ticket.assignee_id)


def reindex_ticket(deps: Deps, ticket_id: str) -> dict[str, Any]:
    """Send a ticket's current document to the search index again (an operator's repair).

    A direct sync call: in ``events-only`` it is not made, ``cutover.blocked_calls`` gets a
    row and ``SyncCallBlocked`` is raised. The idempotency key is the version's, so the
    index keeps what it has."""
    with deps.sessions() as session:
        ticket = session.get(Ticket, ticket_id)
        if ticket is None:
            raise TicketNotFound("ticket", ticket_id)
        snap = snapshot_of(session, ticket)
    document = search_document(snap)
    key = f"{snap.ticket_id}:v{snap.version}"
    return deps.contexts.migrations[SEARCH].call_sync(
        "reindex", lambda: deps.search.index(document, idempotency_key=key), key=ticket_id
    )


def ticket_view(sessions: sessionmaker[Session], ticket_id: str) -> dict[str, Any] | None:
    """A ticket and its history, or None."""
    with sessions() as session:
        ticket = session.get(Ticket, ticket_id)
        if ticket is None:
            return None
        history = session.scalars(
            select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id)
        ).all()
        return {
            **snapshot_of(session, ticket).to_dict(),
            "resolution": ticket.resolution,
            "history": [{"kind": e.kind, "agent_id": e.agent_id} for e in history],
        }


def snapshot_of(session: Session, ticket: Ticket) -> TicketSnapshot:
    """The ticket as the events and the search index carry it."""
    assignee = session.get(Agent, ticket.assignee_id) if ticket.assignee_id else None
    return TicketSnapshot(ticket.id, ticket.title, ticket.body, ticket.requester, ticket.status,
                          assignee.email if assignee else None, ticket.version)  # fmt: skip


def _locked(session: Session, ticket_id: str, change: Change) -> Ticket:
    ticket = session.scalars(select(Ticket).where(Ticket.id == ticket_id).with_for_update()).first()
    if ticket is None:
        raise TicketNotFound("ticket", ticket_id)
    if ticket.status not in ALLOWED[change]:
        raise TransitionRefused(ticket_id, ticket.status, change)
    ticket.version += 1
    ticket.updated_at = now()
    return ticket


def _changed(
    deps: Deps, session: Session, ticket: Ticket, change: Change, agent_id: int | None
) -> TicketSnapshot:
    session.add(TicketEvent(ticket_id=ticket.id, kind=change, agent_id=agent_id))
    session.flush()
    snap = snapshot_of(session, ticket)
    _notify(deps, session, snap, change)
    _index(deps, session, snap, change)
    return snap


def _notify(deps: Deps, session: Session, snap: TicketSnapshot, change: Change) -> None:
    notice = notice_for(change, snap.ticket_id, snap.title, snap.requester, snap.assignee)
    facts = {"ticket_id": snap.ticket_id, "change": change, "title": snap.title,
             "requester": snap.requester, "assignee": snap.assignee}  # fmt: skip
    outbox = deps.contexts.outboxes[NOTIFICATION]
    deps.contexts.migrations[NOTIFICATION].run(
        session,
        key=snap.ticket_id,
        operation=f"notify_{change}",
        sync=lambda: deps.notifier.send(notice, idempotency_key=f"{snap.ticket_id}:{change}"),
        events=lambda tx: outbox.emit(
            tx,
            "notification",
            snap.ticket_id,
            "notification.requested",
            facts,
            aggregate_version=snap.version,
        ),
        verify=cutover.Verify(dry_run=lambda: deps.notifier.verify(notice)),
    )


def _index(deps: Deps, session: Session, snap: TicketSnapshot, change: Change) -> None:
    document = search_document(snap)
    outbox = deps.contexts.outboxes[SEARCH]
    deps.contexts.migrations[SEARCH].run(
        session,
        key=snap.ticket_id,
        operation=f"index_{change}",
        sync=lambda: deps.search.index(
            document, idempotency_key=f"{snap.ticket_id}:v{snap.version}"
        ),
        events=lambda tx: outbox.emit(
            tx,
            "ticket",
            snap.ticket_id,
            f"ticket.{change}",
            snap.to_dict(),
            aggregate_version=snap.version,
        ),
        verify=cutover.Verify(dry_run=lambda: deps.search.verify(document)),
    )
