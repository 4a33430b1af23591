"""Idempotent command endpoints: the first request with an ``Idempotency-Key`` does the work,
every repeat gets its answer (``cutover.flask.idempotent`` applies this to a Flask view).

A key lives in a scope (``orders``) and is bound to its request's fingerprint (sha256 of
method, path and canonical body, :func:`request_fingerprint`). :meth:`Idempotency.begin` claims it in
the store's own short transaction, so concurrent requests see the claim at once, and says
what to do (:data:`Decision`):

* :class:`Proceed` — this request holds the key: run the handler, then :meth:`Idempotency.finish`
  (a response below 500 is stored; a 5xx releases the key, so a retry does the work) or
  :meth:`Idempotency.abandon` (the handler raised: released too);
* :class:`Replay` — the key's first request completed: answer its stored response (same
  status, same body bytes);
* :class:`Mismatch` — the key was used for a different request: 422;
* :class:`StillRunning` — the first request is still running after the wait: 409 with
  ``Retry-After``.

A concurrent repeat waits (polling with backoff, :attr:`IdempotencyOptions.wait`) for the first
to finish. A process that dies while holding a key leaves it ``in-progress``; once its lease
(:attr:`IdempotencyOptions.lease`) has run out a repeat with the same fingerprint takes it over.
Keys expire after :attr:`IdempotencyOptions.retention`; an expired key is claimed afresh, and
:meth:`IdempotencyStore.purge` deletes expired rows.

The store is a port (:class:`IdempotencyStore`): :class:`MemoryIdempotencyStore` for tests,
:class:`~cutover.idempotency_sql.SqlIdempotencyStore` on cutover's ``idempotency_keys`` table.
"""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Final, Literal, Protocol

from cutover.errors import InvalidIdempotencyOptions
from cutover.json_limits import DEFAULT_MAX_DEPTH, canonical_json, parse_json

IN_PROGRESS: Final = "in-progress"
COMPLETED: Final = "completed"
KeyStatus = Literal["in-progress", "completed"]
RETRY_AFTER_SECONDS = 1
"""The ``Retry-After`` of a 409: a repeat that gave up waiting may come back this soon."""


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """The response a key's first request gave: status, the kept headers, the body's bytes."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


@dataclass(frozen=True, slots=True)
class Claim:
    """A request's attempt to hold ``key`` of ``scope`` (its ``token``) until ``lease_until``."""

    scope: str
    key: str
    fingerprint: str
    token: str
    now: datetime
    lease_until: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """A key as the store holds it."""

    scope: str
    key: str
    fingerprint: str
    token: str
    status: KeyStatus
    locked_until: datetime
    expires_at: datetime
    response: StoredResponse | None = None

    @classmethod
    def claimed(cls, claim: Claim) -> KeyRecord:
        """The record a successful ``claim`` leaves."""
        return cls(
            claim.scope, claim.key, claim.fingerprint, claim.token, IN_PROGRESS,
            claim.lease_until, claim.expires_at,
        )  # fmt: skip


def can_take_over(record: KeyRecord, claim: Claim) -> bool:
    """Whether ``claim`` replaces ``record``: the key expired, or its holder's lease ran out
    (a crash) and the claim is the same request."""
    if record.expires_at <= claim.now:
        return True
    return (
        record.status == IN_PROGRESS
        and record.locked_until <= claim.now
        and record.fingerprint == claim.fingerprint
    )


class IdempotencyStore(Protocol):
    """Where keys are held; each method is one short transaction of its own."""

    def claim(self, claim: Claim) -> KeyRecord:
        """Insert the key for ``claim``, or replace a row :func:`can_take_over` allows;
        return the key as it stands afterwards (``token == claim.token``: claimed)."""
        ...

    def complete(
        self,
        scope: str,
        key: str,
        token: str,
        response: StoredResponse,
        *,
        now: datetime,
        expires_at: datetime,
    ) -> bool:
        """Store ``response`` on the key ``token`` holds; False when it no longer holds it."""
        ...

    def release(self, scope: str, key: str, token: str) -> bool:
        """Delete the key ``token`` holds (in progress); False when it no longer holds it."""
        ...

    def get(self, scope: str, key: str) -> KeyRecord | None:
        """The key, or None."""
        ...

    def purge(self, now: datetime) -> int:
        """Delete the keys expired at ``now``; how many."""
        ...


class MemoryIdempotencyStore:
    """:class:`IdempotencyStore` in a dict (tests, a single process)."""

    def __init__(self) -> None:
        self._rows: dict[tuple[str, str], KeyRecord] = {}
        self._lock = threading.Lock()

    def claim(self, claim: Claim) -> KeyRecord:
        with self._lock:
            current = self._rows.get((claim.scope, claim.key))
            if current is None or can_take_over(current, claim):
                current = self._rows[(claim.scope, claim.key)] = KeyRecord.claimed(claim)
            return current

    def complete(
        self,
        scope: str,
        key: str,
        token: str,
        response: StoredResponse,
        *,
        now: datetime,
        expires_at: datetime,
    ) -> bool:
        with self._lock:
            current = self._held(scope, key, token)
            if current is not None:
                self._rows[(scope, key)] = replace(
                    current, status=COMPLETED, response=response, expires_at=expires_at
                )
            return current is not None

    def release(self, scope: str, key: str, token: str) -> bool:
        with self._lock:
            held = self._held(scope, key, token) is not None
            if held:
                del self._rows[(scope, key)]
            return held

    def get(self, scope: str, key: str) -> KeyRecord | None:
        with self._lock:
            return self._rows.get((scope, key))

    def purge(self, now: datetime) -> int:
        with self._lock:
            expired = [k for k, r in self._rows.items() if r.expires_at <= now]
            for k in expired:
                del self._rows[k]
            return len(expired)

    def _held(self, scope: str, key: str, token: str) -> KeyRecord | None:
        current = self._rows.get((scope, key))
        ok = current is not None and current.token == token and current.status == IN_PROGRESS
        return current if ok else None


@dataclass(frozen=True, slots=True)
class IdempotencyOptions:
    """How long keys are kept (``retention``), held by a running request before another may
    take them over (``lease``), how long a repeat waits for the first (``wait``, polling from
    ``poll`` up to ``max_poll`` seconds), and which response headers are stored."""

    retention: timedelta = timedelta(hours=24)
    lease: timedelta = timedelta(seconds=60)
    wait: timedelta = timedelta(seconds=10)
    poll: float = 0.02
    max_poll: float = 0.25
    stored_headers: tuple[str, ...] = ("Content-Type", "Location")
    max_json_depth: int = DEFAULT_MAX_DEPTH

    def __post_init__(self) -> None:
        zero = timedelta(0)
        if min(self.retention, self.lease, self.wait) <= zero:
            raise InvalidIdempotencyOptions("retention, lease and wait must be positive")
        if self.poll <= 0 or self.max_poll < self.poll:
            raise InvalidIdempotencyOptions("poll must be positive and at most max_poll")
        if self.lease <= self.wait:
            raise InvalidIdempotencyOptions(
                "the lease must be longer than the wait (a waiter would take over a running request)"
            )
        if self.max_json_depth < 1:
            raise InvalidIdempotencyOptions("max_json_depth must be at least 1")


@dataclass(frozen=True, slots=True)
class Proceed:
    """This request holds the key (``token``): run the handler."""

    token: str


@dataclass(frozen=True, slots=True)
class Replay:
    """The key's first request completed: answer ``response``."""

    response: StoredResponse


@dataclass(frozen=True, slots=True)
class Mismatch:
    """The key belongs to a request with another fingerprint (422)."""


@dataclass(frozen=True, slots=True)
class StillRunning:
    """The key's first request still runs after the wait (409, ``Retry-After`` seconds)."""

    retry_after: int


Decision = Proceed | Replay | Mismatch | StillRunning


def request_fingerprint(method: str, path: str, body: bytes, *, json_body: bool,
                max_depth: int = DEFAULT_MAX_DEPTH) -> str:  # fmt: skip
    """sha256 (hex) of ``method``, ``path`` and the body: canonical JSON when ``json_body``
    and it parses (key order and whitespace do not matter), else the bytes as they are.
    :class:`~cutover.errors.JsonTooDeep` for a JSON body deeper than ``max_depth``."""
    canonical = body
    if json_body and body:
        try:
            canonical = canonical_json(parse_json(body, max_depth=max_depth))
        except ValueError:  # not JSON: the handler rejects it; the bytes identify it
            canonical = body
    digest = hashlib.sha256(f"{method.upper()}\n{path}\n".encode())
    digest.update(canonical)
    return digest.hexdigest()


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _new_token() -> str:
    return uuid.uuid4().hex


class Idempotency:
    """Applies the key rules over a store (see the module doc); one per application."""

    def __init__(
        self,
        store: IdempotencyStore,
        options: IdempotencyOptions | None = None,
        *,
        clock: Callable[[], datetime] = _utcnow,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.store = store
        self.options = options or IdempotencyOptions()
        self._clock = clock
        self._sleep = sleep

    def begin(self, scope: str, key: str, fingerprint: str) -> Decision:
        """Claim ``key`` for this request, or wait for its first request; see :data:`Decision`."""
        opts, token = self.options, _new_token()
        deadline = self._clock() + opts.wait
        delay = opts.poll
        while True:
            now = self._clock()
            record = self.store.claim(
                Claim(scope, key, fingerprint, token, now, now + opts.lease, now + opts.retention)
            )
            decision = _decide(record, token, fingerprint)
            if decision is not None:
                return decision
            if now >= deadline:
                return StillRunning(retry_after=RETRY_AFTER_SECONDS)
            self._sleep(delay)
            delay = min(delay * 2, opts.max_poll)

    def finish(self, scope: str, key: str, token: str, response: StoredResponse) -> bool:
        """Store ``response`` for the key's repeats, or release the key when it is a 5xx;
        False when the key was no longer this request's (its lease ran out and another
        took it over)."""
        if response.status >= 500:
            return self.abandon(scope, key, token)
        now = self._clock()
        return self.store.complete(
            scope, key, token, response, now=now, expires_at=now + self.options.retention
        )

    def abandon(self, scope: str, key: str, token: str) -> bool:
        """Release the key (the handler failed): a repeat does the work."""
        return self.store.release(scope, key, token)

    def purge(self) -> int:
        """Delete the expired keys; how many."""
        return self.store.purge(self._clock())


def _decide(record: KeyRecord, token: str, fingerprint: str) -> Decision | None:
    if record.token == token:
        return Proceed(token)
    if record.fingerprint != fingerprint:
        return Mismatch()
    if record.status == COMPLETED and record.response is not None:
        return Replay(record.response)
    return None
