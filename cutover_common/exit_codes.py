"""The one exit-code table of the whole ``cutover`` binary.

Every command exits with one of these codes and no other; ``cutover --help`` and the
README print this table (:func:`table_text`). ``2`` means invalid input and nothing else.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """What a ``cutover`` command's exit status means."""

    OK = 0
    """Success; a gate or comparison verdict of ``pass``."""
    ERROR = 1
    """An operational error with no more specific code (including unexpected exceptions)."""
    INVALID_INPUT = 2
    """Invalid input: a usage error, an invalid plan, config, scenario or file."""
    WARN = 3
    """Verdict ``warn``: the evidence needs a human (the phase is paused)."""
    FAIL = 4
    """Verdict ``fail``: outcomes diverge, an invariant or a threshold is broken."""
    LOW_CONFIDENCE = 5
    """Verdict ``low-confidence``: fewer settled keys than the plan's minimum."""
    INCONCLUSIVE = 6
    """Verdict ``inconclusive``: an input could not be measured (infrastructure unreadable)."""
    UNHEALTHY = 7
    """A status command found a component or connector unhealthy."""
    UNREACHABLE = 8
    """A service (Postgres, Kafka, Kafka Connect) could not be reached."""
    NOT_FOUND = 9
    """A named thing does not exist (connector, context, evidence, run)."""
    CONFLICT = 10
    """Another operation holds the lock, or the cluster is mid-change (retry later)."""
    DRIFT = 11
    """``connectors diff``: what runs differs from the desired state."""
    AUTH = 12
    """A service refused the credentials."""
    UNSUPPORTED = 13
    """A service's version or plugin cannot do what was asked."""
    NOT_INITIALISED = 14
    """cutover's state store is not initialised (run ``cutover init``)."""
    INTERRUPTED = 130
    """Interrupted by the operator (Ctrl-C / SIGINT)."""

    @property
    def meaning(self) -> str:
        """The first line of the member's documentation."""
        return _MEANINGS[self]


_MEANINGS: dict[ExitCode, str] = {
    ExitCode.OK: "success; verdict pass",
    ExitCode.ERROR: "operational error (no more specific code), unexpected exception",
    ExitCode.INVALID_INPUT: "invalid input: usage, plan, config, scenario or file",
    ExitCode.WARN: "verdict warn: paused for a human",
    ExitCode.FAIL: "verdict fail: outcomes diverge or a threshold is broken",
    ExitCode.LOW_CONFIDENCE: "verdict low-confidence: too few settled keys",
    ExitCode.INCONCLUSIVE: "verdict inconclusive: an input could not be measured",
    ExitCode.UNHEALTHY: "a component or connector is unhealthy",
    ExitCode.UNREACHABLE: "Postgres, Kafka or Kafka Connect could not be reached",
    ExitCode.NOT_FOUND: "no such connector, context, evidence or run",
    ExitCode.CONFLICT: "locked or mid-change; retry later",
    ExitCode.DRIFT: "connectors or topics differ from the desired state",
    ExitCode.AUTH: "credentials refused",
    ExitCode.UNSUPPORTED: "a service's version or plugin cannot do this",
    ExitCode.NOT_INITIALISED: "state store not initialised: run `cutover init`",
    ExitCode.INTERRUPTED: "interrupted",
}


def table_text() -> str:
    """The table as plain text lines (``code  meaning``), for ``--help`` and docs."""
    return "\n".join(f"{int(c):>3}  {c.meaning}" for c in ExitCode)
