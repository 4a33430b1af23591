"""The worker contract, run against the in-memory fake."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from cdc.client import ConnectClient, RetryPolicy
from cdc.fake import POSTGRES, FakeConnectWorker
from tests.unit.cdc.contract import ConnectWorkerContract


def fake_config(name: str) -> dict[str, Any]:
    return {
        "connector.class": POSTGRES,
        "tasks.max": "1",
        "database.hostname": "127.0.0.1",
        "database.user": "u",
        "database.password": "fake-pass-1234",
        "database.dbname": "d",
        "topic.prefix": name,
        "heartbeat.interval.ms": "1000",
    }


class TestFakeWorkerContract(ConnectWorkerContract):
    @pytest.fixture
    def unique(self) -> str:
        return uuid.uuid4().hex[:10]

    @pytest.fixture
    def client(self) -> ConnectClient:
        return ConnectClient(FakeConnectWorker(), retry=RetryPolicy(), sleep=lambda _s: None)

    @pytest.fixture
    def make_config(self) -> Any:
        return fake_config

    @pytest.fixture
    def invalid_config(self) -> tuple[dict[str, str], str]:
        return {"connector.class": POSTGRES, "database.hostname": "h"}, "topic.prefix"

    @pytest.fixture
    def wait_s(self) -> float:
        return 1.0
