"""Shared by every test: each test starts from structlog's default configuration.

A test that configures logging (``configure_logging(level="WARNING")``, as the CLI does)
would otherwise leave a filtering logger behind, and a later test's ``capture_logs`` would
see its error events but none of its info events (a failure that depends on test order)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import structlog


@pytest.fixture(autouse=True)
def _structlog_defaults() -> Iterator[None]:
    yield
    structlog.reset_defaults()
