"""Errors of the local stack. Each names the cause and the fix in one line."""

from __future__ import annotations

from cutover_common.errors import CutoverError
from cutover_common.exit_codes import ExitCode


class StackError(CutoverError):
    """Base class of every error raised while managing the local stack."""


class PortInUseError(StackError):
    """Raised when a port the stack needs is taken by a process the stack did not start."""

    def __init__(self, component: str, port: int) -> None:
        self.component = component
        self.port = port
        super().__init__(
            f"port {port} needed by {component} is already in use by another process",
            hint=f"stop that process (`ss -ltnp 'sport = :{port}'` shows it) or choose another "
            f"port with CUTOVER_{_env_name(component)}_PORT",
        )


class JavaMissingError(StackError):
    """Raised when no usable ``java`` (17 or newer) is on the PATH."""

    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(
            f"Java 17+ is required for Kafka and Kafka Connect: {detail}",
            hint="install it (`apt-get install -y openjdk-17-jre-headless`) or put it on PATH/JAVA_HOME",
        )


class MavenError(StackError):
    """Raised when Maven is missing or fails to fetch the Kafka/Debezium jars."""

    def __init__(self, pom: str, detail: str) -> None:
        self.pom = pom
        self.detail = detail
        super().__init__(
            f"fetching jars with Maven ({pom}) failed: {detail}",
            hint="check that Maven is installed (`apt-get install -y maven`) and that Maven Central "
            "is reachable, then run `cutover stack up` again",
        )


class PostgresInstallError(StackError):
    """Raised when PostgreSQL binaries are missing and cannot be installed."""

    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(
            f"PostgreSQL server binaries not found and could not be installed: {detail}",
            hint="install them as root with `apt-get update && apt-get install -y postgresql`",
        )


class CorruptStateError(StackError):
    """Raised when the state directory of a component is unusable."""

    def __init__(self, component: str, path: str, detail: str) -> None:
        self.component = component
        self.path = path
        self.detail = detail
        super().__init__(
            f"state of {component} at {path} is corrupt: {detail}",
            hint="wipe it with `cutover stack down --wipe` (data is lost) and run `cutover stack up`",
        )


class StartTimeoutError(StackError):
    """Raised when a component does not become healthy within its start timeout."""

    exit_code = ExitCode.UNHEALTHY

    def __init__(self, component: str, seconds: float, log_path: str, last_lines: str) -> None:
        self.component = component
        self.seconds = seconds
        self.log_path = log_path
        super().__init__(
            f"{component} did not become healthy within {seconds:.0f}s; last log lines:\n{last_lines}",
            hint=f"see {log_path} (or `cutover stack logs {component}`)",
        )


class ComponentExitedError(StackError):
    """Raised when a component's process exits while the stack waits for it."""

    exit_code = ExitCode.UNHEALTHY

    def __init__(self, component: str, code: int | None, log_path: str, last_lines: str) -> None:
        self.component = component
        self.code = code
        self.log_path = log_path
        super().__init__(
            f"{component} exited with code {code} during start-up; last log lines:\n{last_lines}",
            hint=f"see {log_path} (or `cutover stack logs {component}`)",
        )


class ExternalStackError(StackError):
    """Raised when ``CUTOVER_STACK=external`` lacks a setting it needs (or has a bad one)."""

    exit_code = ExitCode.INVALID_INPUT

    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(
            f"external stack (CUTOVER_STACK=external): {detail}",
            hint="set it in the environment, or unset CUTOVER_STACK to use the local stack",
        )


class ExternalStackRefusal(StackError):
    """Raised when asked to start or stop processes of a stack cutover does not run."""

    def __init__(self, action: str) -> None:
        self.action = action
        super().__init__(
            f"`cutover stack {action}` does nothing to an external stack (CUTOVER_STACK=external): "
            "cutover neither starts nor stops its processes",
            hint="start or stop it where it runs (e.g. `docker compose up -d`); "
            "`cutover stack status` checks its health",
        )


def _env_name(component: str) -> str:
    return {"postgres": "PG", "kafka": "KAFKA", "connect": "CONNECT"}.get(
        component, component.upper()
    )
