"""Errors raised by :mod:`cdc`, all under :class:`CdcError`.

Every error keeps its inputs as attributes (HTTP status, the worker's own
message, the connector name, the raw bytes of a message that failed to
decode) and its text is redacted by :class:`~cutover_common.errors.CutoverError`.
``exit_code`` is what ``cutover connectors ...`` exits with (see :mod:`cdc.cli`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cutover_common.errors import CutoverError
from cutover_common.exit_codes import ExitCode

# The cdc names for rows of the binary's one table (:class:`ExitCode`).
EXIT_ERROR = int(ExitCode.ERROR)
EXIT_NOT_FOUND = int(ExitCode.NOT_FOUND)
EXIT_INVALID_CONFIG = int(ExitCode.INVALID_INPUT)
EXIT_UNHEALTHY = int(ExitCode.UNHEALTHY)
EXIT_UNREACHABLE = int(ExitCode.UNREACHABLE)
EXIT_UNSUPPORTED = int(ExitCode.UNSUPPORTED)
EXIT_AUTH = int(ExitCode.AUTH)
EXIT_CONFLICT = int(ExitCode.CONFLICT)
EXIT_DRIFT = int(ExitCode.DRIFT)


class CdcError(CutoverError):
    """Base of every error raised by the cdc package."""


class ConnectError(CdcError):
    """The Connect worker answered a request with an error status.

    ``status`` is the HTTP status, ``worker_message`` the worker's own
    ``message`` (redacted), ``method``/``path`` the request that failed.
    """

    def __init__(
        self, status: int, worker_message: str, *, method: str, path: str, hint: str | None = None
    ) -> None:
        from cutover_common.secrets import redact

        self.status = status
        self.worker_message = redact(worker_message)
        self.method = method
        self.path = path
        super().__init__(f"{method} {path} -> HTTP {status}: {worker_message}", hint=hint)


class ConnectBadRequest(ConnectError):
    """HTTP 400: the worker rejected the request (often an invalid connector config)."""

    exit_code = EXIT_INVALID_CONFIG


class ConnectAuthError(ConnectError):
    """HTTP 401/403: the worker refused our credentials."""

    exit_code = EXIT_AUTH


class ConnectNotFound(ConnectError):
    """HTTP 404 for a resource that is not a connector (a task, a plugin, a logger)."""

    exit_code = EXIT_NOT_FOUND


class ConnectorNotFound(ConnectNotFound):
    """HTTP 404: the named connector does not exist on the worker."""

    def __init__(self, connector: str, worker_message: str, *, method: str, path: str) -> None:
        self.connector = connector
        super().__init__(
            404,
            worker_message,
            method=method,
            path=path,
            hint="check the name with `cutover connectors list`",
        )


class ConnectConflict(ConnectError):
    """HTTP 409: a rebalance was in progress (after all retries), or the connector exists."""

    exit_code = EXIT_CONFLICT


class ConnectServerError(ConnectError):
    """HTTP 5xx: the worker failed while handling the request."""


class ConnectUnreachable(CdcError):
    """The worker could not be reached (connection refused, DNS, TLS, timeout)."""

    exit_code = EXIT_UNREACHABLE

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(
            f"Kafka Connect at {url} is unreachable: {reason}",
            hint="check --url / CUTOVER_CONNECT_URL and that the worker is up",
        )


class UnsupportedByWorker(CdcError):
    """The worker's version does not offer the requested REST call or option."""

    exit_code = EXIT_UNSUPPORTED

    def __init__(self, feature: str, worker_version: str, required_version: str) -> None:
        self.feature = feature
        self.worker_version = worker_version
        self.required_version = required_version
        super().__init__(
            f"{feature} needs Kafka Connect {required_version} or later; "
            f"the worker runs {worker_version}"
        )


class WaitTimeout(CdcError):
    """``wait_for`` gave up before the connector and all its tasks reached the wanted state."""

    exit_code = EXIT_UNHEALTHY

    def __init__(self, connector: str, wanted: str, timeout_s: float, last_seen: str) -> None:
        self.connector = connector
        self.wanted = wanted
        self.timeout_s = timeout_s
        self.last_seen = last_seen
        super().__init__(
            f"connector {connector!r} did not reach {wanted} within {timeout_s:g}s "
            f"(last seen: {last_seen})"
        )


class DangerousConfig(CdcError):
    """A connector config uses JAAS/JNDI login modules or config providers without permission."""

    exit_code = EXIT_INVALID_CONFIG

    def __init__(self, connector: str, findings: Sequence[tuple[str, str, str]]) -> None:
        self.connector = connector
        self.findings = tuple(findings)  # (category, key, reason)
        listed = "; ".join(f"{key}: {reason} [{cat}]" for cat, key, reason in self.findings)
        cats = sorted({cat for cat, _, _ in self.findings})
        super().__init__(
            f"connector {connector!r} has dangerous configuration: {listed}",
            hint=f"allow it explicitly (allow: {cats}) if you really mean it",
        )


class InvalidConnectorConfig(CdcError):
    """The worker rejected a connector config, and its validation names the fields and why."""

    exit_code = EXIT_INVALID_CONFIG

    def __init__(self, connector: str, field_errors: Mapping[str, Sequence[str]]) -> None:
        self.connector = connector
        self.field_errors = {k: tuple(v) for k, v in field_errors.items()}
        listed = "; ".join(f"{k}: {' / '.join(v)}" for k, v in self.field_errors.items())
        super().__init__(f"connector {connector!r} config is invalid: {listed}")


class DesiredStateError(CdcError):
    """The desired-connectors YAML is malformed or refers to a missing environment variable."""

    exit_code = EXIT_INVALID_CONFIG

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        self.source = source
        self.problems = tuple(problems)
        super().__init__(f"{source}: " + "; ".join(self.problems))


class DecodeError(CdcError):
    """A Kafka message could not be decoded as a Debezium event; ``raw`` keeps its bytes."""

    def __init__(
        self,
        reason: str,
        *,
        raw: bytes | None,
        key: bytes | None = None,
        topic: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        self.reason = reason
        self.raw = raw
        self.key = key
        self.topic = topic
        self.metadata = dict(metadata or {})
        where = f" on {topic}" if topic else ""
        super().__init__(f"cannot decode Debezium message{where}: {reason}")


class CommandOutcome(CdcError):
    """A CLI command printed its result and must exit non-zero (drift, unhealthy, invalid).

    ``exit_code`` is set per instance; the message is the one line the CLI prints to stderr.
    """

    def __init__(self, exit_code: int, message: str) -> None:
        self.exit_code = exit_code
        super().__init__(message)


class ResnapshotRefused(CdcError):
    """Raised when applying a connector would change what Debezium resumes from (its
    ``topic.prefix``, slot or publication) on a connector already running, so the outbox
    would be published again; ``reasons`` says what each change would cause. Nothing is
    changed on Connect; ``--allow-resnapshot`` does it anyway."""

    exit_code = EXIT_CONFLICT

    def __init__(self, connector: str, reasons: Sequence[str]) -> None:
        self.connector = connector
        self.reasons = tuple(reasons)
        super().__init__(
            f"connector {connector}: {'; '.join(self.reasons)}; "
            "pass --allow-resnapshot to do it anyway"
        )


class RecoveryRefused(CdcError):
    """Raised by ``cutover connectors recover`` before it changes anything, when the
    connector is not one it can recover (not a Debezium Postgres connector, its slot still
    exists, no stored position to bound the gap); ``reason`` says which."""

    exit_code = EXIT_CONFLICT

    def __init__(self, connector: str, reason: str) -> None:
        self.connector = connector
        self.reason = reason
        super().__init__(f"cannot recover connector {connector}: {reason}")


class RecoveryIncomplete(CdcError):
    """Raised by ``cutover connectors recover`` when the connector streams again but the
        gap's incremental snapshot did not finish within the timeout; ``done`` says how far it
        got. The snapshot goes on inside the connector (Debezium keeps its progress in the
    connector's offsets)."""

    exit_code = EXIT_UNHEALTHY

    def __init__(self, connector: str, done: str, timeout_s: float) -> None:
        self.connector = connector
        self.done = done
        self.timeout_s = timeout_s
        super().__init__(
            f"connector {connector} streams again, but the gap's backfill did not finish "
            f"in {timeout_s:g}s ({done})"
        )
