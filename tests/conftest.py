"""Shared by every test: after each test, structlog is reset to pass every level and
print nothing.

A test that configures logging (``configure_logging(level="WARNING")``, as the CLI does)
would otherwise leave a filtering logger behind, and a later test's ``capture_logs`` would
see its error events but none of its info events (a failure that depends on test order).
Printing nothing by default keeps a background thread an earlier test left running from
writing into a later test's captured output."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import structlog


@pytest.fixture(autouse=True)
def _structlog_defaults() -> Iterator[None]:
    yield
    structlog.reset_defaults()
    structlog.configure(logger_factory=structlog.ReturnLoggerFactory())
