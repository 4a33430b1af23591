"""Dead-letter records: the original bytes and headers, plus why and where from.

Header names (all text): ``dlq.error.class``, ``dlq.error.kind``,
``dlq.error.message``, ``dlq.original.topic``, ``dlq.original.partition``,
``dlq.original.offset``, ``dlq.original.timestamp``, ``dlq.attempts``,
``dlq.consumer``. The original key, value and headers are kept untouched, so a
fixed consumer can re-publish the record as it was.
"""

from __future__ import annotations

from dataclasses import dataclass

from cutover_common.secrets import redact
from shadow.messages import Headers, RawMessage

PREFIX = "dlq."


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One record bound for the dead-letter topic."""

    original: RawMessage
    kind: str
    error_class: str
    message: str
    attempts: int
    consumer: str

    def headers(self) -> Headers:
        extra = {
            "dlq.error.class": self.error_class,
            "dlq.error.kind": self.kind,
            "dlq.error.message": redact(self.message)[:1000],
            "dlq.original.topic": self.original.topic,
            "dlq.original.partition": str(self.original.partition),
            "dlq.original.offset": str(self.original.offset),
            "dlq.original.timestamp": str(self.original.timestamp_ms),
            "dlq.attempts": str(self.attempts),
            "dlq.consumer": self.consumer,
        }
        return (*self.original.headers, *((k, v.encode()) for k, v in extra.items()))


def dlq_topic_for(group_id: str) -> str:
    """The default dead-letter topic of a consumer group."""
    return f"{group_id}.dlq"


def dlq_headers(msg: RawMessage) -> dict[str, str]:
    """The ``dlq.*`` headers of a dead-lettered record, as text."""
    return {k: (v or b"").decode() for k, v in msg.headers if k.startswith(PREFIX)}
