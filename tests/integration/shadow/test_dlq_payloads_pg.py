from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from rehearsal.stack.endpoints import Endpoints
from shadow.dlq_payloads import PgDeadLetterPayloads
from shadow.store import StoreUnavailableError
from tests.unit.shadow.dlq_payloads_contract import DeadLetterPayloadsContract, payload


class TestPgDeadLetterPayloads(DeadLetterPayloadsContract):
    @pytest.fixture
    def payloads(self, endpoints: Endpoints, fresh_database: str) -> Iterator[PgDeadLetterPayloads]:
        p = PgDeadLetterPayloads(endpoints.dsn(fresh_database), "shadow")
        p.ensure_schema()
        yield p
        p.close()

    def test_a_5_mb_value_is_kept(self, payloads: PgDeadLetterPayloads) -> None:
        big = bytes(range(256)) * 20_480
        got = payloads.get(payloads.store(payload(value=big)))
        assert got is not None and got.value == big and got.size == 5_242_880


def test_an_unreachable_database_is_unavailable(endpoints: Endpoints) -> None:
    payloads = PgDeadLetterPayloads(endpoints.dsn("no_such_database_h1"), "shadow")
    with pytest.raises(StoreUnavailableError):
        payloads.store(payload())


def test_workers_starting_together_create_the_table_once(
    endpoints: Endpoints, fresh_database: str
) -> None:
    """Two workers of a rehearsal once both ran CREATE TABLE IF NOT EXISTS at start; one died
    on pg_type's unique index. The advisory lock makes the creation one at a time."""
    stores = [PgDeadLetterPayloads(endpoints.dsn(fresh_database), "shadow") for _ in range(6)]
    barrier = threading.Barrier(len(stores))
    errors: list[BaseException] = []

    def start(p: PgDeadLetterPayloads) -> None:
        barrier.wait()
        try:
            p.ensure_schema()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(p,)) for p in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    got = stores[0].get(stores[0].store(payload()))
    for p in stores:
        p.close()
    assert (errors, got is not None) == ([], True)
