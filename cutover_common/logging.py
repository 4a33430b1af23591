"""structlog set-up for entry points, with secrets redacted at the logging layer.

Libraries only call ``structlog.get_logger(__name__)``; the entry point (CLI,
WSGI server, worker) calls :func:`configure_logging` once.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

from cutover_common.secrets import redact_value


def redact_processor(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: mask sensitive keys and known secret values in every field."""
    redacted = redact_value(dict(event_dict))
    event_dict.clear()
    event_dict.update(redacted)
    return event_dict


def _current_stderr(*_args: Any) -> structlog.PrintLogger:
    """A logger on whatever ``sys.stderr`` is when a line is logged: an in-process run that
    swapped it for a capture (click's CliRunner, pytest) and closed it leaves no logger
    bound to the closed stream behind."""
    return structlog.PrintLogger(file=sys.stderr)


def configure_logging(
    *, json: bool = False, level: str | int = "INFO", stream: TextIO | None = None
) -> None:
    """Configure structlog (and stdlib logging) once, for an entry point.

    ``json=True`` renders one JSON object per line (services); otherwise the
    console renderer (local use). Secrets are redacted before rendering.
    """
    out = stream or sys.stderr
    factory: Any = structlog.PrintLoggerFactory(file=stream) if stream else _current_stderr
    lvl = logging.getLevelName(level) if isinstance(level, str) else level
    renderer: Any = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact_processor,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(lvl),
        logger_factory=factory,
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(level=lvl, stream=out, format="%(levelname)s %(name)s %(message)s")
