"""The root of every cutover error hierarchy.

Each package has its own ``errors.py`` whose base class derives from
:class:`CutoverError`, so the CLI catches toolkit errors in one place and prints
one clear line (without secrets) and exits with the error's ``exit_code``.
"""

from __future__ import annotations

from cutover_common.exit_codes import ExitCode


class CutoverError(Exception):
    """Base of all errors raised deliberately by cutover.

    ``exit_code`` is what the CLI exits with when this error reaches the top.
    ``hint`` is an optional sentence telling the user how to fix the cause.
    """

    exit_code: int = ExitCode.ERROR

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        from cutover_common.secrets import redact

        super().__init__(redact(message))
        self.hint = redact(hint) if hint else None

    def one_line(self) -> str:
        """The message and the fix, as the CLI prints them."""
        text = str(self)
        return f"{text} — {self.hint}" if self.hint else text


class InvalidInput(CutoverError):
    """Raised when what the operator gave cannot be used (a file, a value); exit code 2."""

    exit_code = ExitCode.INVALID_INPUT


class PlanFileMissing(InvalidInput):
    """Raised when ``--plan`` (or ``$CUTOVER_PLAN``, or ``./cutover-plan.yaml``) names no file."""

    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__(
            f"no plan file at {path}",
            hint="give --plan PATH or set CUTOVER_PLAN (default: ./cutover-plan.yaml)",
        )


class EnvironmentVariableMissing(InvalidInput):
    """Raised when an environment variable that a command was told to read is not set."""

    def __init__(self, name: str, *, named_by: str | None = None, hint: str | None = None) -> None:
        self.name = name
        self.named_by = named_by
        by = f" (named by {named_by})" if named_by else ""
        super().__init__(f"environment variable {name}{by} is not set", hint=hint)


class KafkaUnreachable(CutoverError):
    """Raised when the Kafka cluster at ``bootstrap_servers`` does not answer (listing topics)."""

    exit_code = ExitCode.UNREACHABLE

    def __init__(self, bootstrap_servers: str, reason: str) -> None:
        self.bootstrap_servers, self.reason = bootstrap_servers, reason
        super().__init__(f"Kafka at {bootstrap_servers} could not be reached: {reason}")


class TopicCreationFailed(CutoverError):
    """Raised when the broker refuses to create ``topic`` (or it never appears in its metadata):
    cutover creates every topic it uses before use (``auto.create.topics.enable=false``)."""

    def __init__(self, topic: str, reason: str) -> None:
        self.topic, self.reason = topic, reason
        super().__init__(
            f"topic {topic} could not be created: {reason}",
            hint="check the broker's ACLs and limits, or create it yourself (cutover topics list)",
        )
