"""The helpdesk's business rules, pure: who is told what about a ticket, and what is indexed.

The sync path (:mod:`.tickets`) and the shadow handlers (:mod:`.shadow`) both apply them:
the first to the rows it just wrote, the second to the events — so the comparators see the
same notices and documents on both sides when the event path is right.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

Change = Literal["opened", "assigned", "resolved"]
CHANGES: tuple[Change, ...] = ("opened", "assigned", "resolved")
NEXT_STATUS: Mapping[Change, str] = {
    "opened": "open",
    "assigned": "assigned",
    "resolved": "resolved",
}


@dataclass(frozen=True, slots=True)
class TicketSnapshot:
    """A ticket as it stands after one change (what the search index and the events carry)."""

    ticket_id: str
    title: str
    body: str
    requester: str
    status: str
    assignee: str | None
    """The assignee's e-mail address, once assigned."""
    version: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "ticket_id": self.ticket_id,
            "title": self.title,
            "body": self.body,
            "requester": self.requester,
            "status": self.status,
            "assignee": self.assignee,
            "version": self.version,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TicketSnapshot:
        return cls(
            str(data["ticket_id"]), str(data["title"]), str(data["body"]),
            str(data["requester"]), str(data["status"]),
            None if data.get("assignee") is None else str(data["assignee"]),
            int(data["version"]),
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Notice:
    """One e-mail the notifier sends about a ticket."""

    ticket_id: str
    template: str
    recipient: str
    subject: str

    def to_dict(self) -> dict[str, str]:
        return {
            "ticket_id": self.ticket_id,
            "template": self.template,
            "recipient": self.recipient,
            "subject": self.subject,
        }


def notice_for(
    change: Change, ticket_id: str, title: str, requester: str, assignee: str | None
) -> Notice:
    """The e-mail a change sends: the requester hears of the opening and the resolution, the
    assignee of the assignment."""
    if change == "opened":
        return Notice(ticket_id, "ticket_received", requester, f"We received your request: {title}")
    if change == "assigned":
        if assignee is None:
            raise ValueError(f"ticket {ticket_id} assigned to nobody")
        return Notice(ticket_id, "ticket_assigned", assignee, f"Assigned to you: {title}")
    return Notice(ticket_id, "ticket_resolved", requester, f"Resolved: {title}")


def search_document(ticket: TicketSnapshot) -> dict[str, Any]:
    """The document the search index holds for ``ticket`` (its text, status and assignee)."""
    return {
        "ticket_id": ticket.ticket_id,
        "title": ticket.title,
        "body": ticket.body,
        "status": ticket.status,
        "assignee": ticket.assignee,
        "version": ticket.version,
    }
