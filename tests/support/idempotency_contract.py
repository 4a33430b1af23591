"""What every idempotency store does (the in-memory fake, SQLite, PostgreSQL alike).

Subclass :class:`IdempotencyStoreContract` and give it a ``store`` fixture returning an empty
store; each test uses its own scope, so one database may serve them all.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from cutover import IdempotencyStore, StoredResponse
from cutover.idempotency import COMPLETED, IN_PROGRESS, Claim

T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=60)
RETENTION = timedelta(hours=24)
ANSWER = StoredResponse(201, (("Content-Type", "application/json"),), b'{"id": "o-1"}\n')


def claim(scope: str, fp: str = "f" * 64, *, at: datetime = T0, key: str = "k-1") -> Claim:
    return Claim(scope, key, fp, uuid.uuid4().hex, at, at + LEASE, at + RETENTION)


def new_scope() -> str:
    return f"s-{uuid.uuid4().hex[:12]}"


class IdempotencyStoreContract:
    def test_the_first_claim_holds_the_key(self, store: IdempotencyStore) -> None:
        first = claim(new_scope())
        record = store.claim(first)
        assert (record.token, record.status, record.response) == (first.token, IN_PROGRESS, None)
        assert store.get(first.scope, "k-1") == record

    def test_a_second_claim_sees_the_first_holder(self, store: IdempotencyStore) -> None:
        scope = new_scope()
        first = store.claim(claim(scope))
        second = store.claim(claim(scope, at=T0 + timedelta(seconds=1)))
        assert (second.token, second.status) == (first.token, IN_PROGRESS)

    def test_a_completed_key_returns_the_stored_response(self, store: IdempotencyStore) -> None:
        scope = new_scope()
        first = claim(scope)
        store.claim(first)
        done = store.complete(scope, "k-1", first.token, ANSWER, now=T0, expires_at=T0 + RETENTION)
        again = store.claim(claim(scope, at=T0 + timedelta(seconds=5)))
        assert done is True
        assert (again.token, again.status, again.response) == (first.token, COMPLETED, ANSWER)

    def test_only_the_holder_completes_or_releases(self, store: IdempotencyStore) -> None:
        scope = new_scope()
        store.claim(claim(scope))
        assert store.complete(scope, "k-1", "other", ANSWER, now=T0, expires_at=T0) is False
        assert store.release(scope, "k-1", "other") is False
        assert store.release(new_scope(), "k-1", "other") is False
        record = store.get(scope, "k-1")
        assert record is not None and record.status == IN_PROGRESS

    def test_a_released_key_is_claimed_afresh(self, store: IdempotencyStore) -> None:
        scope = new_scope()
        first = claim(scope)
        store.claim(first)
        assert store.release(scope, "k-1", first.token) is True
        assert store.get(scope, "k-1") is None
        second = claim(scope, "e" * 64)
        assert store.claim(second).token == second.token

    def test_a_lapsed_lease_is_taken_over_by_the_same_request(
        self, store: IdempotencyStore
    ) -> None:
        scope = new_scope()
        store.claim(claim(scope))
        later = T0 + LEASE
        other_request = store.claim(claim(scope, "e" * 64, at=later))
        same_request = claim(scope, at=later)
        assert other_request.fingerprint == "f" * 64  # still the first's
        assert store.claim(same_request).token == same_request.token

    def test_an_expired_key_is_claimed_by_any_request(self, store: IdempotencyStore) -> None:
        scope = new_scope()
        first = claim(scope)
        store.claim(first)
        store.complete(scope, "k-1", first.token, ANSWER, now=T0, expires_at=T0 + RETENTION)
        fresh = claim(scope, "e" * 64, at=T0 + RETENTION)
        record = store.claim(fresh)
        assert (record.token, record.status, record.response) == (fresh.token, IN_PROGRESS, None)

    def test_purge_deletes_only_expired_keys(self, store: IdempotencyStore) -> None:
        old, young = new_scope(), new_scope()
        store.claim(claim(old, at=T0 - 2 * RETENTION))
        store.claim(claim(young))
        assert store.purge(T0 - RETENTION / 2) >= 1
        assert store.get(old, "k-1") is None
        assert store.get(young, "k-1") is not None

    def test_concurrent_claims_have_one_holder(self, store: IdempotencyStore) -> None:
        scope = new_scope()
        claims = [claim(scope) for _ in range(16)]
        with ThreadPoolExecutor(8) as pool:
            records = list(pool.map(store.claim, claims))
        holders = {r.token for r in records}
        assert len(holders) == 1
        assert sum(c.token in holders for c in claims) == 1
