"""What verify runs and blocked sync calls leave behind: the records and where they go.

In ``async`` the sync path runs in verify mode and its would-be answer is a
:class:`VerifyRecord`; the comparators read them back as the *verify* outcome source and
compare them with the event path's outcome (a reverse comparison). In ``events-only`` any
sync call still attempted is a :class:`BlockedCall`; the phase-5 gate wants none.

A :class:`Ledger` stores both: :class:`MemoryLedger` in tests,
:class:`cutover.state_sql.SqlLedger` on cutover's tables (``verify_results``,
``blocked_calls``). Records are written in their own short transaction, never the
request's, so a verify answer is kept whatever the request's transaction does.
"""

from __future__ import annotations

import dataclasses
import enum
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal, Protocol

from cutover_common.secrets import redact

VerifyForm = Literal["dry-run", "recorded-request"]
"""How the sync path ran in verify mode: the downstream's dry-run call answered, or the
request that would have been sent was recorded instead of sent."""


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """The request a sync call would have sent (verify by recorded request).

    ``body`` must be JSON-like; ``headers`` are recorded too, so leave out any secret
    (an ``Authorization`` header is dropped whatever its case).
    """

    method: str
    url: str
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)

    def document(self) -> dict[str, Any]:
        """The request as stored and compared: method upper-cased, body JSON-ready, headers
        sorted, without the secret-bearing ones (``Authorization``, cookies, API keys), and
        the URL with its password and secret-named query values masked."""
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _SECRET_HEADERS}
        return {
            "method": self.method.upper(),
            "url": redact(self.url),
            "body": jsonable(self.body),
            "headers": dict(sorted(headers.items())),
        }


_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key"})


@dataclass(frozen=True, slots=True)
class VerifyRecord:
    """One verify run's result for ``key`` (``operation`` of ``context``).

    ``answer`` is the dry-run's answer or the recorded request's document; an
    ``inconclusive`` run (timeout, error) has none and says why in ``reason``.
    """

    context: str
    operation: str
    key: str
    form: VerifyForm
    answer: Any = None
    inconclusive: bool = False
    reason: str | None = None
    correlation_id: str | None = None
    elapsed_ms: float | None = None

    def document(self) -> dict[str, Any]:
        """The stored ``result`` document: ``{"form", "answer"}`` plus ``inconclusive`` and
        ``reason`` when the run said nothing (a dict answer is also merged in at the top, as
        the comparators' verify outcome source reads its fields there)."""
        doc: dict[str, Any] = {}
        answer = jsonable(self.answer)
        if isinstance(answer, dict):
            doc.update(answer)
        doc |= {"form": self.form, "answer": answer}
        if self.inconclusive:
            doc |= {"inconclusive": True, "reason": self.reason}
        if self.elapsed_ms is not None:
            doc["elapsed_ms"] = round(self.elapsed_ms, 3)
        return doc


@dataclass(frozen=True, slots=True)
class BlockedCall:
    """A sync call attempted while its context was ``events-only``; it was not executed."""

    context: str
    operation: str
    key: str | None = None
    correlation_id: str | None = None


class Ledger(Protocol):
    """Port: where verify results and blocked sync calls are recorded."""

    def record_verify(self, record: VerifyRecord) -> None:
        """Store one verify run's result; may raise (the runner counts and logs the failure)."""
        ...

    def record_blocked(self, call: BlockedCall) -> None:
        """Store one blocked sync call; may raise (the runner counts and logs the failure)."""
        ...


@dataclass
class MemoryLedger:
    """In-memory :class:`Ledger` for tests."""

    verified: list[VerifyRecord] = field(default_factory=list)
    blocked: list[BlockedCall] = field(default_factory=list)

    def record_verify(self, record: VerifyRecord) -> None:
        self.verified.append(record)

    def record_blocked(self, call: BlockedCall) -> None:
        self.blocked.append(call)


def jsonable(value: Any) -> Any:
    """``value`` as JSON-ready data: dataclasses and mappings as objects, ``Decimal``, UUIDs,
    enums and dates as strings, sequences as lists; anything else by ``str``."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, enum.Enum):
        return jsonable(value.value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    return str(value)
