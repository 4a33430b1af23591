from __future__ import annotations

import pytest

from shadow.dlq_payloads import InMemoryDeadLetterPayloads, payloads_ddl
from shadow.errors import ShadowConfigError
from shadow.store import StoreUnavailableError
from tests.unit.shadow.dlq_payloads_contract import DeadLetterPayloadsContract, payload


class TestInMemoryDeadLetterPayloads(DeadLetterPayloadsContract):
    @pytest.fixture
    def payloads(self) -> InMemoryDeadLetterPayloads:
        return InMemoryDeadLetterPayloads()

    def test_an_unavailable_store_refuses(self, payloads: InMemoryDeadLetterPayloads) -> None:
        payloads.unavailable = True
        with pytest.raises(StoreUnavailableError):
            payloads.store(payload())


def test_the_ddl_names_the_agreed_table_and_columns() -> None:
    ddl = payloads_ddl("shadow_a")
    assert "shadow_a.cutover_dead_letter_payloads" in ddl
    for column in ("id text PRIMARY KEY", '"offset" bigint', "headers jsonb", "size int"):
        assert column in ddl


def test_the_ddl_refuses_a_schema_that_is_not_an_identifier() -> None:
    with pytest.raises(ShadowConfigError):
        payloads_ddl("x; drop table y")
