from __future__ import annotations

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
