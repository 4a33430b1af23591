"""Configuration of the order service and the downstream services.

Values come from the defaults below, then a mapping (``create_app(config)``),
then ``CUTOVER_*`` environment variables (``CUTOVER_DATABASE_URL``,
``CUTOVER_HTTP_READ_TIMEOUT``, ``CUTOVER_FAULT_PAYMENT_ERROR_RATE``...), the
way Flask's ``from_mapping`` then ``from_prefixed_env`` layer them. Keys are
the upper-case field names.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from legacy_app.errors import ConfigError

ENV_PREFIX = "CUTOVER_"
DOWNSTREAMS: tuple[str, ...] = ("inventory", "payment", "shipping", "email")
DEFAULT_PORTS: dict[str, int] = {
    "order": 5000,
    "inventory": 5001,
    "payment": 5002,
    "shipping": 5003,
    "email": 5004,
}


def service_ports(
    overrides: Mapping[str, int] | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, int]:
    """Ports of the five services: defaults, then ``CUTOVER_APP_<SERVICE>_PORT``, then ``overrides``."""
    env = os.environ if environ is None else environ
    ports = dict(DEFAULT_PORTS)
    for service in ports:
        key = f"APP_{service.upper()}_PORT"
        raw = env.get(ENV_PREFIX + key)
        if raw:
            ports[service] = _coerce(key, int, raw)
    unknown = set(overrides or {}) - set(ports)
    if unknown:
        raise ConfigError("APP_*_PORT", f"unknown services {sorted(unknown)}")
    ports.update(overrides or {})
    return ports


@dataclass(frozen=True, slots=True)
class FaultSettings:
    """Rehearsal faults of one downstream service.

    With probability ``error_rate`` a request gets a 500 before anything is done;
    with probability ``delay_rate`` it sleeps ``delay_seconds`` (so the caller
    times out) — ``before`` doing the work or ``after`` committing it.
    """

    error_rate: float = 0.0
    delay_rate: float = 0.0
    delay_seconds: float = 5.0
    delay_phase: str = "before"


@dataclass(frozen=True, slots=True)
class AppConfig:
    """Every knob of the sample monolith (one frozen value, shared by all its apps)."""

    database_url: str = ""
    inventory_url: str = f"http://127.0.0.1:{DEFAULT_PORTS['inventory']}"
    payment_url: str = f"http://127.0.0.1:{DEFAULT_PORTS['payment']}"
    shipping_url: str = f"http://127.0.0.1:{DEFAULT_PORTS['shipping']}"
    email_url: str = f"http://127.0.0.1:{DEFAULT_PORTS['email']}"
    http_connect_timeout: float = 0.5
    http_read_timeout: float = 2.0
    http_retries: int = 2
    http_retry_backoff: float = 0.05
    breaker_failures: int = 5
    breaker_reset_seconds: float = 5.0
    max_body_bytes: int = 64 * 1024
    mode_cache_seconds: float = 1.0
    db_pool_size: int = 10
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    outbox_topic_prefix: str = "outbox.event"
    fault_crash_before_produce: float = 0.0
    faults: Mapping[str, FaultSettings] = field(default_factory=dict)

    def service_url(self, service: str) -> str:
        """Base URL of a downstream service."""
        return str(getattr(self, f"{service}_url")).rstrip("/")

    def fault(self, service: str) -> FaultSettings:
        """Fault settings of ``service`` (none by default)."""
        return self.faults.get(service, FaultSettings())


def _coerce(key: str, kind: type, raw: Any) -> Any:
    try:
        if kind is float:
            value = float(raw)
            if value < 0:
                raise ValueError("must not be negative")
            return value
        if kind is int:
            value = int(raw)
            if value < 0:
                raise ValueError("must not be negative")
            return value
        return str(raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(key, str(exc)) from exc


def _lookup(key: str, mapping: Mapping[str, Any], environ: Mapping[str, str]) -> Any:
    env_value = environ.get(ENV_PREFIX + key)
    if env_value is not None and env_value != "":
        return env_value
    if key in mapping:
        return mapping[key]
    return mapping.get(key.lower())


def _load_faults(
    mapping: Mapping[str, Any], environ: Mapping[str, str]
) -> dict[str, FaultSettings]:
    faults: dict[str, FaultSettings] = {}
    given = mapping.get("FAULTS") or mapping.get("faults") or {}
    for service in DOWNSTREAMS:
        base = given.get(service, FaultSettings())
        values: dict[str, Any] = {}
        for fld in dataclasses.fields(FaultSettings):
            key = f"FAULT_{service.upper()}_{fld.name.upper()}"
            raw = _lookup(key, mapping, environ)
            if raw is not None:
                kind = str if fld.name == "delay_phase" else float
                values[fld.name] = _coerce(key, kind, raw)
        settings = dataclasses.replace(base, **values)
        if settings.delay_phase not in ("before", "after"):
            raise ConfigError(f"FAULT_{service.upper()}_DELAY_PHASE", "must be before or after")
        for rate in (settings.error_rate, settings.delay_rate):
            if rate > 1:
                raise ConfigError(f"FAULT_{service.upper()}_*_RATE", "a probability is at most 1")
        faults[service] = settings
    return faults


def load_config(
    mapping: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> AppConfig:
    """Defaults, then ``mapping``, then ``CUTOVER_*`` variables of ``environ`` (``os.environ``)."""
    given = dict(mapping or {})
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for fld in dataclasses.fields(AppConfig):
        if fld.name == "faults":
            continue
        key = fld.name.upper()
        raw = _lookup(key, given, env)
        if raw is not None:
            kind = type(getattr(AppConfig(), fld.name))
            values[fld.name] = _coerce(key, kind, raw)
    values["faults"] = _load_faults(given, env)
    config = AppConfig(**values)
    if config.fault_crash_before_produce > 1:
        raise ConfigError("FAULT_CRASH_BEFORE_PRODUCE", "a probability is at most 1")
    return config
