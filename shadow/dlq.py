"""Dead-letter records: the original bytes and headers, plus why and where from.

Header names (all text): ``dlq.error.class``, ``dlq.error.kind``,
``dlq.error.message``, ``dlq.original.topic``, ``dlq.original.partition``,
``dlq.original.offset``, ``dlq.original.timestamp``, ``dlq.original.size`` (the
original value's length in bytes), ``dlq.attempts``, ``dlq.consumer`` and
``dlq.value.truncated`` (``true`` when the record's value is not the whole original).
The record's key is the original key. The original value and headers are kept untouched,
so a fixed consumer can re-publish the record as it was — unless the record would be
too large for the dead-letter topic: then its value is cut to what fits (original headers
dropped too if need be), and ``dlq.claim_check`` names the row of the shadow store's
``cutover_dead_letter_payloads`` table that holds the whole original
(:mod:`shadow.dlq_payloads`). When that row could not be written,
``dlq.claim_check.error`` says why instead, and the cut value is all that is left.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from cutover_common.secrets import redact
from shadow.messages import Headers, RawMessage

PREFIX = "dlq."
CLAIM_CHECK = "dlq.claim_check"
CLAIM_CHECK_ERROR = "dlq.claim_check.error"
ORIGINAL_SIZE = "dlq.original.size"
VALUE_TRUNCATED = "dlq.value.truncated"


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One record bound for the dead-letter topic.

    ``value_limit`` (None: the whole value) cuts the value to that many bytes; ``slim`` drops
    the original headers (the ``dlq.*`` ones stay).
    """

    original: RawMessage
    kind: str
    error_class: str
    message: str
    attempts: int
    consumer: str
    claim_check: str | None = None
    claim_check_error: str | None = None
    value_limit: int | None = None
    slim: bool = False

    @property
    def value(self) -> bytes | None:
        value = self.original.value
        if value is None or self.value_limit is None:
            return value
        return value[: self.value_limit]

    @property
    def truncated(self) -> bool:
        return self.value_limit is not None and len(self.original.value or b"") > self.value_limit

    @property
    def coordinates_tuple(self) -> tuple[str, int, int]:
        """``(topic, partition, offset)`` of the original."""
        o = self.original
        return (o.topic, o.partition, o.offset)

    @property
    def coordinates(self) -> str:
        """``topic:partition@offset`` of the original."""
        o = self.original
        return f"{o.topic}:{o.partition}@{o.offset}"

    def headers(self) -> Headers:
        o = self.original
        extra = {
            "dlq.error.class": self.error_class,
            "dlq.error.kind": self.kind,
            "dlq.error.message": redact(self.message)[:1000],
            "dlq.original.topic": o.topic,
            "dlq.original.partition": str(o.partition),
            "dlq.original.offset": str(o.offset),
            "dlq.original.timestamp": str(o.timestamp_ms),
            ORIGINAL_SIZE: str(len(o.value or b"")),
            "dlq.attempts": str(self.attempts),
            "dlq.consumer": self.consumer,
            VALUE_TRUNCATED: "true" if self.truncated else "false",
        }
        if self.claim_check is not None:
            extra[CLAIM_CHECK] = self.claim_check
        if self.claim_check_error is not None:
            extra[CLAIM_CHECK_ERROR] = redact(self.claim_check_error)[:300]
        kept = () if self.slim else o.headers
        return (*kept, *((k, v.encode()) for k, v in extra.items()))

    def size(self) -> int:
        """Bytes of key, value and headers as produced (what the producer's limit counts,
        give or take the record's framing)."""
        hdrs = sum(len(k) + len(v or b"") for k, v in self.headers())
        return len(self.original.key or b"") + len(self.value or b"") + hdrs

    def fitted(self, limit: int) -> DeadLetter:
        """This letter cut to at most ``limit`` bytes (``size``): the value cut to what the
        key and headers leave; without the original headers if they leave nothing."""
        if self.size() <= limit:
            return self
        cut = replace(self, value_limit=0)
        if cut.size() > limit:
            cut = replace(cut, slim=True)
        room = max(0, limit - cut.size())
        return replace(cut, value_limit=room)


def dlq_topic_for(group_id: str) -> str:
    """The default dead-letter topic of a consumer group."""
    return f"{group_id}.dlq"


def dlq_headers(msg: RawMessage) -> dict[str, str]:
    """The ``dlq.*`` headers of a dead-lettered record, as text."""
    return {k: (v or b"").decode() for k, v in msg.headers if k.startswith(PREFIX)}
