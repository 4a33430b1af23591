from __future__ import annotations

import io

import pytest

from cutover_common.logging import configure_logging


@pytest.fixture(autouse=True)
def _quiet_logs() -> None:
    """Log lines go to a throwaway stream so command output stays machine-readable."""
    configure_logging(stream=io.StringIO())
