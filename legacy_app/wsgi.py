"""WSGI entry points for gunicorn: ``gunicorn 'legacy_app.wsgi:create("payment")'``.

The entry point (not the app) configures logging: JSON lines, secrets redacted.
Configuration comes from ``CUTOVER_*`` environment variables.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask

from cutover_common.logging import configure_logging
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
    configure_logging(json=True)
    return FACTORIES[service](config)
