"""Errors of the rehearsal (the stack has its own, :mod:`rehearsal.stack.errors`)."""

from __future__ import annotations

from cutover_common.errors import CutoverError
from cutover_common.exit_codes import ExitCode


class RehearsalError(CutoverError):
    """Base class of the errors a rehearsal raises deliberately."""


class NotReadyError(RehearsalError):
    """Raised when a part of the pipeline (stack, connector, shadow group, worker) is not
    ready within its bound; ``component`` names it, ``detail`` says what was seen."""

    exit_code = ExitCode.UNHEALTHY

    def __init__(self, component: str, detail: str) -> None:
        self.component = component
        self.detail = detail
        super().__init__(
            f"{component} is not ready: {detail}",
            hint="see `cutover stack status`, `cutover stack logs NAME` and the run's logs "
            "under .cutover/rehearsals/<run>/",
        )


class SystemLoadError(RehearsalError):
    """Raised when ``--system`` names no loadable adapter; says what is missing."""

    exit_code = ExitCode.INVALID_INPUT

    def __init__(self, source: str, reason: str) -> None:
        self.source = source
        self.reason = reason
        super().__init__(
            f"--system {source}: {reason}",
            hint="a system directory holds rehearsal.py defining SYSTEM (see rehearsal.system)",
        )
