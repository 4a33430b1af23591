"""The helpdesk's errors: one base class, each with the inputs it was raised for."""

from __future__ import annotations

from typing import Any


class HelpdeskError(Exception):
    """Base of every error the helpdesk raises on purpose."""


class ConfigError(HelpdeskError):
    """Raised when a setting (``HELPDESK_<KEY>`` or the ``create_app`` mapping) is unusable."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"HELPDESK_{key}: {reason}")
        self.key = key
        self.reason = reason


class InvalidRequest(HelpdeskError):
    """Raised when a request's body is not what the endpoint takes (answered 4xx)."""

    def __init__(self, status: int, errors: list[dict[str, Any]]) -> None:
        super().__init__(f"invalid request ({status})")
        self.status = status
        self.errors = errors


class TicketNotFound(HelpdeskError):
    """Raised when a ticket (or an agent) named by a request does not exist (answered 404)."""

    def __init__(self, what: str, ident: str) -> None:
        super().__init__(f"no {what} {ident}")
        self.what = what
        self.ident = ident


class TransitionRefused(HelpdeskError):
    """Raised when a ticket cannot make the asked change from its status (answered 409)."""

    def __init__(self, ticket_id: str, status: str, change: str) -> None:
        super().__init__(f"ticket {ticket_id} is {status}: cannot be {change}")
        self.ticket_id = ticket_id
        self.status = status
        self.change = change


class DownstreamFailed(HelpdeskError):
    """Raised when a sync call to the notifier or the search index failed (answered 502; the
    ticket's transaction rolls back)."""

    def __init__(self, service: str, reason: str) -> None:
        super().__init__(f"{service}: {reason}")
        self.service = service
        self.reason = reason
