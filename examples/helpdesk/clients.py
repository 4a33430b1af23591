"""The two downstream services as ports, their HTTP adapters and their in-memory fakes.

Each port has the real call (:meth:`Notifier.send`, :meth:`SearchIndex.index`: an effect,
deduplicated by the idempotency key) and its dry run (``verify``: what the service would
do, nothing done) — the verify run of ``async`` mode.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import requests

import cutover
from examples.helpdesk.errors import DownstreamFailed
from examples.helpdesk.rules import Notice

IDEMPOTENCY_HEADER = "Idempotency-Key"


class Notifier(Protocol):
    """Port: the service that e-mails requesters and agents."""

    def send(self, notice: Notice, *, idempotency_key: str) -> dict[str, Any]: ...

    def verify(self, notice: Notice) -> dict[str, Any]: ...


class SearchIndex(Protocol):
    """Port: the service that indexes tickets' text."""

    def index(self, document: Mapping[str, Any], *, idempotency_key: str) -> dict[str, Any]: ...

    def verify(self, document: Mapping[str, Any]) -> dict[str, Any]: ...


def _post(
    service: str, url: str, body: Mapping[str, Any], key: str | None, timeout: float
) -> dict[str, Any]:
    headers = {IDEMPOTENCY_HEADER: key} if key else {}
    correlation = cutover.current_correlation_id()
    if correlation:
        headers["X-Correlation-ID"] = correlation
    try:
        resp = requests.post(url, json=dict(body), headers=headers, timeout=timeout)
    except requests.RequestException as exc:
        raise DownstreamFailed(service, type(exc).__name__) from exc
    if resp.status_code >= 300:
        raise DownstreamFailed(service, f"HTTP {resp.status_code} from {url}")
    answer: dict[str, Any] = resp.json()
    return answer


@dataclass(frozen=True, slots=True)
class HttpNotifier:
    """The notifier over HTTP (``POST /notifications``, ``POST /notifications/verify``)."""

    base_url: str
    timeout: float = 2.0

    def send(self, notice: Notice, *, idempotency_key: str) -> dict[str, Any]:
        url = f"{self.base_url.rstrip('/')}/notifications"
        return _post("notifier", url, notice.to_dict(), idempotency_key, self.timeout)

    def verify(self, notice: Notice) -> dict[str, Any]:
        url = f"{self.base_url.rstrip('/')}/notifications/verify"
        return _post("notifier", url, notice.to_dict(), None, self.timeout)


@dataclass(frozen=True, slots=True)
class HttpSearchIndex:
    """The search index over HTTP (``POST /documents``, ``POST /documents/verify``)."""

    base_url: str
    timeout: float = 2.0

    def index(self, document: Mapping[str, Any], *, idempotency_key: str) -> dict[str, Any]:
        url = f"{self.base_url.rstrip('/')}/documents"
        return _post("search", url, document, idempotency_key, self.timeout)

    def verify(self, document: Mapping[str, Any]) -> dict[str, Any]:
        url = f"{self.base_url.rstrip('/')}/documents/verify"
        return _post("search", url, document, None, self.timeout)


@dataclass
class MemoryNotifier:
    """In-memory :class:`Notifier` for tests; ``failing`` makes every call fail."""

    sent: dict[str, Notice] = field(default_factory=dict)
    verified: list[Notice] = field(default_factory=list)
    failing: bool = False

    def send(self, notice: Notice, *, idempotency_key: str) -> dict[str, Any]:
        if self.failing:
            raise DownstreamFailed("notifier", "HTTP 500")
        self.sent.setdefault(idempotency_key, notice)
        return {**notice.to_dict(), "status": "sent"}

    def verify(self, notice: Notice) -> dict[str, Any]:
        self.verified.append(notice)
        return {"template": notice.template, "recipient": notice.recipient, "status": "would_send"}


@dataclass
class MemorySearchIndex:
    """In-memory :class:`SearchIndex` for tests: the newest version of each document."""

    documents: dict[str, dict[str, Any]] = field(default_factory=dict)
    verified: list[dict[str, Any]] = field(default_factory=list)
    failing: bool = False

    def index(self, document: Mapping[str, Any], *, idempotency_key: str) -> dict[str, Any]:
        if self.failing:
            raise DownstreamFailed("search", "HTTP 500")
        held = self.documents.get(str(document["ticket_id"]))
        if held is None or int(held["version"]) < int(document["version"]):
            self.documents[str(document["ticket_id"])] = dict(document)
        return {"ticket_id": document["ticket_id"], "status": "indexed"}

    def verify(self, document: Mapping[str, Any]) -> dict[str, Any]:
        self.verified.append(dict(document))
        return {**document, "dry_run": True}
