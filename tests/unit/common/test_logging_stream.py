"""configure_logging without a stream follows sys.stderr: a closed capture leaves nothing
behind (an in-process CLI run under CliRunner used to break every later log line)."""

from __future__ import annotations

import io
import sys

import pytest
import structlog

from cutover_common.logging import configure_logging


def test_logging_after_a_closed_capture_of_stderr_goes_to_the_current_stderr(
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = structlog.get_config()
    real, capture = sys.stderr, io.StringIO()
    try:
        sys.stderr = capture
        configure_logging()
        structlog.get_logger("t").warning("during_the_run")
        sys.stderr = real
        capture.close()
        structlog.get_logger("t").warning("after_the_run")
    finally:
        sys.stderr = real
        structlog.configure(**before)
    assert "after_the_run" in capsys.readouterr().err
