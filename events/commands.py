"""Commands: requests to do something, kept distinct from events.

An event is an immutable fact in the past tense (``article.favorited``); a command is an
imperative request (``FavoriteArticle``) that the receiver may refuse. A command's type has
no dot and is PascalCase, so the two can never be confused; handling one yields a
:class:`CommandResult` — accepted with the events it caused, or rejected with a reason.
Commands are contracts like events (:mod:`events.structs`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from events.envelope import Envelope


@dataclass(frozen=True, slots=True)
class CommandResult:
    """What handling a command gave: accepted (with the events it caused) or rejected."""

    command_id: str
    accepted: bool
    reason: str | None = None
    events: tuple[Envelope, ...] = ()

    @classmethod
    def accept(cls, command_id: str, *events: Envelope) -> CommandResult:
        return cls(command_id, True, None, tuple(events))

    @classmethod
    def reject(cls, command_id: str, reason: str) -> CommandResult:
        return cls(command_id, False, reason)
