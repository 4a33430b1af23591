"""WSGI entry points for gunicorn: ``gunicorn 'legacy_app.wsgi:create("payment")'``.

The entry point (not the app) configures logging: JSON lines, URL passwords redacted.
Configuration comes from ``CUTOVER_*`` environment variables.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Callable, MutableMapping
from typing import Any

import structlog
from flask import Flask

from legacy_app.app import create_app as create_order_app
from legacy_app.services import email, inventory, payment, shipping

FACTORIES: dict[str, Callable[..., Flask]] = {
    "order": create_order_app,
    "inventory": inventory.create_app,
    "payment": payment.create_app,
    "shipping": shipping.create_app,
    "email": email.create_app,
}
SERVICES: tuple[str, ...] = tuple(FACTORIES)


def create(service: str, config: dict[str, Any] | None = None) -> Flask:
    """The app of ``service`` with service-style logging."""
    configure_logging()
    return FACTORIES[service](config)


_URL_PASSWORD = re.compile(r"(://[^:/@\s]+:)[^@\s]+@")


def _redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in event.items():
        if isinstance(value, str) and "://" in value:
            event[key] = _URL_PASSWORD.sub(r"\1***@", value)
    return event


def configure_logging(level: int = logging.INFO) -> None:
    """structlog as the services log: one JSON object per line on stderr."""
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            _redact,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(level=level, stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")
