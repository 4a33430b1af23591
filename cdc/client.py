"""A client for the whole Kafka Connect REST API.

Every call goes through :meth:`ConnectClient._call`, which retries HTTP 409
(a rebalance in progress) with exponential backoff, turns error statuses into
typed :mod:`cdc.errors` carrying the worker's message, and checks the worker's
version for calls that newer workers added (:mod:`cdc.versions`).
Config values may be :class:`~cutover_common.secrets.Secret`; they are revealed
only in the request body, never in a log line or exception.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import structlog

from cdc import errors
from cdc.models import (
    ConnectorInfo,
    ConnectorOffsets,
    ConnectorOverview,
    ConnectorState,
    LoggerLevel,
    OffsetEntry,
    PluginInfo,
    TaskState,
    ValidationResult,
    WorkerInfo,
)
from cdc.transport import BasicAuth, HttpResponse, Params, RequestsTransport, TlsOptions, Transport
from cdc.versions import FEATURES, require
from cutover_common.secrets import Secret, redact_value

log = structlog.get_logger(__name__)

ConfigValue = str | Secret
Config = Mapping[str, ConfigValue]


def wire_config(config: Config) -> dict[str, str]:
    """The config as the worker needs it: secrets revealed, every value a string."""
    return {k: v.reveal() if isinstance(v, Secret) else str(v) for k, v in config.items()}


def _q(name: str) -> str:
    return quote(name, safe="")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Backoff for HTTP 409 during a rebalance: ``attempts`` tries, delays doubling up to a cap."""

    attempts: int = 8
    initial_delay_s: float = 0.25
    max_delay_s: float = 4.0

    def delays(self) -> list[float]:
        out, delay = [], self.initial_delay_s
        for _ in range(self.attempts - 1):
            out.append(min(delay, self.max_delay_s))
            delay *= 2
        return out


ROUTE_NOT_FOUND = "HTTP 404 Not Found"


class ConnectClient:
    """Manage connectors on one Kafka Connect cluster (through any :class:`Transport`)."""

    def __init__(
        self,
        transport: Transport,
        *,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.transport = transport
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._clock = clock
        self._version: str | None = None

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        auth: BasicAuth | None = None,
        tls: TlsOptions | None = None,
        timeout_s: float = 30.0,
        retry: RetryPolicy | None = None,
    ) -> ConnectClient:
        transport = RequestsTransport(url, auth=auth, tls=tls or TlsOptions(), timeout_s=timeout_s)
        return cls(transport, retry=retry)

    def __repr__(self) -> str:
        return f"ConnectClient({self.transport!r})"

    # -- plumbing -------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: Params = (),
        body: Any = None,
        connector: str | None = None,
        feature: str | None = None,
    ) -> HttpResponse:
        if feature is not None:
            require(feature, self.worker_version)
        delays = self.retry.delays()
        while True:
            resp = self.transport.request(method, path, params=params, body=body)
            log.debug("connect.call", method=method, path=path, status=resp.status)
            if delays and _is_rebalance(resp):
                delay = delays.pop(0)
                log.info("connect.rebalance_retry", path=path, delay_s=delay)
                self._sleep(delay)
                continue
            if resp.status < 300:
                return resp
            raise self._error(resp, method, path, connector, feature)

    def _error(
        self, resp: HttpResponse, method: str, path: str, connector: str | None, feature: str | None
    ) -> errors.CdcError:
        message = _message(resp)
        status = resp.status
        if (status == 404 and message == ROUTE_NOT_FOUND) or status == 405:
            needed = str(FEATURES[feature]) if feature else "a newer version"
            return errors.UnsupportedByWorker(
                feature or f"{method} {path}", self._version or "unknown", needed
            )
        if status == 404 and connector is not None and _names_connector(message, connector):
            return errors.ConnectorNotFound(connector, message, method=method, path=path)
        kinds: dict[int, type[errors.ConnectError]] = {
            400: errors.ConnectBadRequest,
            401: errors.ConnectAuthError,
            403: errors.ConnectAuthError,
            404: errors.ConnectNotFound,
            409: errors.ConnectConflict,
        }
        kind = kinds.get(
            status, errors.ConnectServerError if status >= 500 else errors.ConnectError
        )
        return kind(status, message, method=method, path=path)

    # -- worker ---------------------------------------------------------------------------

    def worker_info(self) -> WorkerInfo:
        info = WorkerInfo.from_json(self._call("GET", "/").body or {})
        self._version = info.version
        return info

    @property
    def worker_version(self) -> str:
        if self._version is None:
            self.worker_info()
        assert self._version is not None
        return self._version

    def health(self) -> dict[str, Any]:
        """``GET /health`` (KIP-1017): the worker's own readiness."""
        return dict(self._call("GET", "/health", feature="worker health (KIP-1017)").body or {})

    # -- connectors -----------------------------------------------------------------------

    def list_connectors(self) -> list[str]:
        return sorted(self._call("GET", "/connectors").body or [])

    def list_connectors_expanded(self) -> list[ConnectorOverview]:
        """Every connector with its info and status, in one request."""
        body = self._call(
            "GET",
            "/connectors",
            params=[("expand", "status"), ("expand", "info")],
            feature="expand connector list",
        ).body
        rows = []
        for name, item in sorted((body or {}).items()):
            info = ConnectorInfo.from_json(item["info"]) if "info" in item else None
            status = ConnectorState.from_json(item["status"]) if "status" in item else None
            rows.append(ConnectorOverview(name, info, status))
        return rows

    def get_connector(self, name: str) -> ConnectorInfo:
        return ConnectorInfo.from_json(
            self._call("GET", f"/connectors/{_q(name)}", connector=name).body
        )

    def get_config(self, name: str) -> dict[str, str]:
        body = self._call("GET", f"/connectors/{_q(name)}/config", connector=name).body
        return {str(k): str(v) for k, v in (body or {}).items()}

    def put_config(self, name: str, config: Config) -> tuple[ConnectorInfo, bool]:
        """Create or update; returns the connector and whether it was created."""
        with self._explain_invalid(name, config):
            resp = self._call("PUT", f"/connectors/{_q(name)}/config", body=wire_config(config))
        log.info("connect.config_put", connector=name, created=resp.status == 201)
        return ConnectorInfo.from_json(resp.body), resp.status == 201

    def patch_config(self, name: str, changes: Mapping[str, ConfigValue | None]) -> ConnectorInfo:
        """Change some keys (``None`` removes a key) without resending the whole config."""
        body = {k: (None if v is None else wire_config({k: v})[k]) for k, v in changes.items()}
        resp = self._call(
            "PATCH",
            f"/connectors/{_q(name)}/config",
            body=body,
            connector=name,
            feature="patch connector config (KIP-477)",
        )
        return ConnectorInfo.from_json(resp.body)

    def create_connector(
        self, name: str, config: Config, *, initial_state: str | None = None
    ) -> ConnectorInfo:
        """``POST /connectors``; ``initial_state`` RUNNING/PAUSED/STOPPED needs Connect 3.7+."""
        body: dict[str, Any] = {"name": name, "config": wire_config(config)}
        feature = None
        if initial_state is not None:
            body["initial_state"] = initial_state.upper()
            feature = "create with initial_state (KIP-980)"
        with self._explain_invalid(name, config):
            resp = self._call("POST", "/connectors", body=body, feature=feature)
        log.info("connect.created", connector=name, initial_state=initial_state)
        return ConnectorInfo.from_json(resp.body)

    @contextmanager
    def _explain_invalid(self, name: str, config: Config) -> Iterator[None]:
        """A rejected create/update (400, or the 500 some plugins cause) becomes
        :class:`InvalidConnectorConfig` with the per-field errors when validation has any."""
        try:
            yield
        except (errors.ConnectBadRequest, errors.ConnectServerError) as exc:
            try:
                result = self.validate(config, name=name)
            except errors.CdcError:
                raise exc from None
            if result.errors:
                raise errors.InvalidConnectorConfig(name, result.errors) from exc
            raise

    def delete_connector(self, name: str) -> None:
        self._call("DELETE", f"/connectors/{_q(name)}", connector=name)
        log.info("connect.deleted", connector=name)

    # -- status and lifecycle -------------------------------------------------------------

    def status(self, name: str) -> ConnectorState:
        return ConnectorState.from_json(
            self._call("GET", f"/connectors/{_q(name)}/status", connector=name).body
        )

    def task_status(self, name: str, task_id: int) -> TaskState:
        path = f"/connectors/{_q(name)}/tasks/{task_id}/status"
        return TaskState.from_json(self._call("GET", path, connector=name).body)

    def tasks(self, name: str) -> list[dict[str, Any]]:
        """``GET /connectors/{name}/tasks``: each task's id and config (redacted)."""
        body = self._call("GET", f"/connectors/{_q(name)}/tasks", connector=name).body or []
        return [dict(redact_value(t)) for t in body]

    def restart(
        self, name: str, *, include_tasks: bool = False, only_failed: bool = False
    ) -> ConnectorState | None:
        """Restart the connector (and its tasks); returns the status the worker reports, if any."""
        params: list[tuple[str, str]] = []
        feature = None
        if include_tasks or only_failed:
            params = [
                ("includeTasks", str(include_tasks).lower()),
                ("onlyFailed", str(only_failed).lower()),
            ]
            feature = "restart with includeTasks/onlyFailed (KIP-745)"
        resp = self._call(
            "POST",
            f"/connectors/{_q(name)}/restart",
            params=params,
            connector=name,
            feature=feature,
        )
        log.info("connect.restarted", connector=name, tasks=include_tasks, only_failed=only_failed)
        if isinstance(resp.body, dict) and "name" in resp.body:
            return ConnectorState.from_json(resp.body)
        return None

    def restart_task(self, name: str, task_id: int) -> None:
        self._call("POST", f"/connectors/{_q(name)}/tasks/{task_id}/restart", connector=name)

    def pause(self, name: str) -> None:
        self._call("PUT", f"/connectors/{_q(name)}/pause", connector=name)

    def resume(self, name: str) -> None:
        self._call("PUT", f"/connectors/{_q(name)}/resume", connector=name)

    def stop(self, name: str) -> None:
        self._call(
            "PUT",
            f"/connectors/{_q(name)}/stop",
            connector=name,
            feature="stop connector (KIP-875)",
        )

    def wait_for(
        self, name: str, state: str, *, timeout_s: float = 60.0, interval_s: float = 0.5
    ) -> ConnectorState:
        """Poll until the connector **and every task** are in ``state``.

        Raises :class:`~cdc.errors.WaitTimeout` (with the last status seen) after ``timeout_s``.
        """
        wanted = state.upper()
        deadline = self._clock() + timeout_s
        last = "unknown"
        while True:
            try:
                current = self.status(name)
                if current.is_in(wanted):
                    return current
                last = current.summary()
            except errors.ConnectorNotFound:
                last = "not found"
            if self._clock() >= deadline:
                raise errors.WaitTimeout(name, wanted, timeout_s, last)
            self._sleep(interval_s)

    # -- offsets (KIP-875) and topics -----------------------------------------------------

    def get_offsets(self, name: str) -> ConnectorOffsets:
        body = self._call(
            "GET",
            f"/connectors/{_q(name)}/offsets",
            connector=name,
            feature="get offsets (KIP-875)",
        ).body
        return ConnectorOffsets.from_json(body or {})

    def alter_offsets(self, name: str, entries: Sequence[OffsetEntry]) -> str:
        """Set offsets of a STOPPED connector; returns the worker's message."""
        body = {"offsets": [e.to_dict() for e in entries]}
        resp = self._call(
            "PATCH",
            f"/connectors/{_q(name)}/offsets",
            body=body,
            connector=name,
            feature="alter offsets (KIP-875)",
        )
        return _message(resp)

    def reset_offsets(self, name: str) -> str:
        """Delete all offsets of a STOPPED connector; returns the worker's message."""
        resp = self._call(
            "DELETE",
            f"/connectors/{_q(name)}/offsets",
            connector=name,
            feature="reset offsets (KIP-875)",
        )
        log.info("connect.offsets_reset", connector=name)
        return _message(resp)

    def topics(self, name: str) -> list[str]:
        body = self._call(
            "GET", f"/connectors/{_q(name)}/topics", connector=name, feature="connector topics"
        ).body
        return sorted((body or {}).get(name, {}).get("topics", []))

    def reset_topics(self, name: str) -> None:
        self._call(
            "PUT",
            f"/connectors/{_q(name)}/topics/reset",
            connector=name,
            feature="connector topics",
        )

    # -- plugins and validation -----------------------------------------------------------

    def plugins(self, *, connectors_only: bool = True) -> list[PluginInfo]:
        params = [] if connectors_only else [("connectorsOnly", "false")]
        body = self._call("GET", "/connector-plugins", params=params).body or []
        return sorted((PluginInfo.from_json(p) for p in body), key=lambda p: p.class_name)

    def plugin_config(self, plugin: str) -> list[dict[str, Any]]:
        """The config definitions of a plugin (KIP-769)."""
        path = f"/connector-plugins/{_q(plugin)}/config"
        return list(self._call("GET", path, feature="connector plugin config (KIP-769)").body or [])

    def validate(
        self, config: Config, *, plugin: str | None = None, name: str | None = None
    ) -> ValidationResult:
        """Validate a config; per-field errors come back as data, not as an exception.

        ``name`` fills the config's ``name`` (which the worker requires) when it has none.
        """
        wire = wire_config(config)
        if name:
            wire.setdefault("name", name)
        cls = plugin or wire.get("connector.class", "")
        if not cls:
            raise errors.ConnectBadRequest(
                400,
                "connector.class is missing",
                method="PUT",
                path="/connector-plugins/?/config/validate",
            )
        wire.setdefault("connector.class", cls)
        path = f"/connector-plugins/{_q(cls.rsplit('.', 1)[-1])}/config/validate"
        return ValidationResult.from_json(self._call("PUT", path, body=wire).body or {})

    # -- admin loggers --------------------------------------------------------------------

    def loggers(self) -> list[LoggerLevel]:
        body = self._call("GET", "/admin/loggers").body or {}
        return [
            LoggerLevel(n, str(v.get("level")), v.get("last_modified"))
            for n, v in sorted(body.items())
        ]

    def logger(self, name: str) -> LoggerLevel:
        body = self._call("GET", f"/admin/loggers/{_q(name)}").body or {}
        return LoggerLevel(name, str(body.get("level")), body.get("last_modified"))

    def set_logger_level(self, name: str, level: str, *, cluster: bool = False) -> list[str]:
        """Set a logger's level on this worker (or, with ``cluster``, on every worker)."""
        params = [("scope", "cluster")] if cluster else []
        feature = "cluster-wide logger levels (KIP-976)" if cluster else None
        resp = self._call(
            "PUT",
            f"/admin/loggers/{_q(name)}",
            params=params,
            body={"level": level.upper()},
            feature=feature,
        )
        return list(resp.body) if isinstance(resp.body, list) else []


def _message(resp: HttpResponse) -> str:
    if isinstance(resp.body, dict) and "message" in resp.body:
        return str(resp.body["message"])
    return resp.text.strip() or f"HTTP {resp.status}"


def _is_existing(resp: HttpResponse) -> bool:
    return "already exists" in _message(resp).lower()


def _is_rebalance(resp: HttpResponse) -> bool:
    """A rebalance in progress: HTTP 409 (not "already exists"), or the 500 a worker answers
    while it expects one ("Request cannot be completed because a rebalance is expected")."""
    if resp.status == 409:
        return not _is_existing(resp)
    return resp.status == 500 and "rebalance is expected" in _message(resp).lower()


def _names_connector(message: str, _connector: str) -> bool:
    lowered = message.lower()
    return "connector" in lowered and "task" not in lowered
