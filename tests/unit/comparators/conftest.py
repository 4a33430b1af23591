from __future__ import annotations

import io

import pytest

from cutover_common.logging import configure_logging
from tests.support.plans import without_kafka_position


@pytest.fixture(autouse=True)
def _quiet_logs() -> None:
    """Log lines go to a throwaway stream so command output stays machine-readable."""
    configure_logging(stream=io.StringIO())


@pytest.fixture(autouse=True)
def _no_kafka(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every comparison here finds the pipeline position "not measured" at once."""
    without_kafka_position(monkeypatch)
