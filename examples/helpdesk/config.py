"""Configuration of the helpdesk and its two services.

Defaults, then a mapping (``create_app(config)``), then ``HELPDESK_*`` environment
variables (``HELPDESK_DATABASE_URL``, ``HELPDESK_NOTIFIER_URL``...). Keys are the upper-case
field names. Faults for rehearsals: ``HELPDESK_FAULT_ERROR_RATE`` makes a service answer
500 with that probability before doing anything.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from examples.helpdesk.errors import ConfigError

ENV_PREFIX = "HELPDESK_"
DEFAULT_PORTS: dict[str, int] = {"helpdesk": 5100, "notifier": 5101, "search": 5102}


@dataclass(frozen=True, slots=True)
class HelpdeskConfig:
    """Every knob of the helpdesk and its services (one frozen value)."""

    database_url: str = ""
    notifier_url: str = f"http://127.0.0.1:{DEFAULT_PORTS['notifier']}"
    search_url: str = f"http://127.0.0.1:{DEFAULT_PORTS['search']}"
    http_timeout: float = 2.0
    mode_cache_seconds: float = 1.0
    verify_timeout: float = 2.0
    fault_error_rate: float = 0.0
    plan_path: str = ""
    """The plan whose ``outbox:`` block describes the outbox table (empty: the default layout)."""


def _coerce(key: str, kind: type, raw: Any) -> Any:
    if kind is str:
        return str(raw)
    try:
        value = float(raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(key, f"not a number: {raw!r}") from exc
    if value < 0:
        raise ConfigError(key, "must not be negative")
    return value


def load_config(
    mapping: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> HelpdeskConfig:
    """Defaults, then ``mapping``, then ``HELPDESK_*`` variables of ``environ`` (``os.environ``)."""
    given = {str(k).upper(): v for k, v in (mapping or {}).items()}
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for fld in dataclasses.fields(HelpdeskConfig):
        key = fld.name.upper()
        raw = env.get(ENV_PREFIX + key) or given.get(key)
        if raw is not None:
            values[fld.name] = _coerce(key, type(getattr(HelpdeskConfig(), fld.name)), raw)
    config = HelpdeskConfig(**values)
    if config.fault_error_rate > 1:
        raise ConfigError("FAULT_ERROR_RATE", "a probability is at most 1")
    return config
