"""The worker contract, run against the REAL Kafka Connect worker with Debezium."""

from __future__ import annotations

from typing import Any

import pytest

from cdc.client import ConnectClient
from rehearsal.stack.endpoints import Endpoints
from tests.unit.cdc.contract import ConnectWorkerContract

pytestmark = pytest.mark.integration


class TestRealWorkerContract(ConnectWorkerContract):
    @pytest.fixture
    def invalid_config(self, make_config: Any, unique: str) -> tuple[dict[str, Any], str]:
        config = make_config(f"contract-{unique}")
        return {**config, "snapshot.mode": "sometimes"}, "snapshot.mode"

    @pytest.fixture
    def wait_s(self) -> float:
        return 90.0

    def test_client_repr_names_the_worker(
        self, client: ConnectClient, endpoints: Endpoints
    ) -> None:
        assert endpoints.connect_url in repr(client)
