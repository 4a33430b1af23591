"""Errors raised by :mod:`phases`; all derive from :class:`PhasesError`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cutover_common.errors import CutoverError
from cutover_common.exit_codes import ExitCode


@dataclass(frozen=True, slots=True)
class PlanIssue:
    """One problem in a migration plan: the dotted field path and the reason."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class PhasesError(CutoverError):
    """Base of every error raised by the phases package."""


class PlanInvalid(PhasesError):
    """Raised when a migration plan file cannot be parsed or fails validation.

    ``issues`` holds one :class:`PlanIssue` per problem, each with its field path.
    """

    exit_code = ExitCode.INVALID_INPUT

    def __init__(self, source: str, issues: Sequence[PlanIssue]) -> None:
        self.source = source
        self.issues = tuple(issues)
        head = self.issues[0] if self.issues else PlanIssue("<plan>", "invalid")
        first = f"{head.path} — {head.message}"  # no "key: value" shape for the redactor
        more = f" (+{len(self.issues) - 1} more)" if len(self.issues) > 1 else ""
        super().__init__(f"invalid plan {source}: {first}{more}")


class TransitionRefused(PhasesError):
    """Raised when a requested transition is not allowed from the current state."""

    exit_code = ExitCode.CONFLICT

    def __init__(self, current: int, target: int, reason: str) -> None:
        self.current = current
        self.target = target
        self.reason = reason
        super().__init__(f"transition {current} -> {target} refused: {reason}")


class TransitionLocked(PhasesError):
    """Raised when another operator holds the transition lock (two advances at once)."""

    exit_code = ExitCode.CONFLICT

    def __init__(self, holder: str | None = None) -> None:
        self.holder = holder
        who = f" (held by {holder})" if holder else ""
        super().__init__(
            f"another transition is running{who}",
            hint="wait for it to finish, then run `cutover status`",
        )


class TransitionInterrupted(PhasesError):
    """Raised when a crashed transition was left behind and must be resumed first."""

    exit_code = ExitCode.CONFLICT

    def __init__(self, from_phase: int, to_phase: int, stage: str, actor: str) -> None:
        self.from_phase = from_phase
        self.to_phase = to_phase
        self.stage = stage
        self.actor = actor
        super().__init__(
            f"transition {from_phase} -> {to_phase} by {actor} stopped at stage {stage!r}",
            hint="run `cutover advance --resume` (or `cutover rollback`) to finish it",
        )


class NothingToResume(PhasesError):
    """Raised by ``advance --resume`` when no interrupted transition exists."""

    exit_code = ExitCode.NOT_FOUND

    def __init__(self) -> None:
        super().__init__("no interrupted transition to resume")


class GraphError(PhasesError):
    """Raised when the versioned steps do not form one linear chain (gap, duplicate, fork)."""

    def __init__(self, revisions: Sequence[int], reason: str) -> None:
        self.revisions = tuple(revisions)
        self.reason = reason
        super().__init__(f"invalid step graph {list(self.revisions)}: {reason}")


class UnknownContext(PhasesError):
    """Raised when a command names a bounded context the plan does not define."""

    exit_code = ExitCode.NOT_FOUND

    def __init__(self, context: str, known: Sequence[str]) -> None:
        self.context = context
        self.known = tuple(known)
        super().__init__(f"unknown context {context!r}; the plan defines {', '.join(known)}")


class StepFailed(PhasesError):
    """Raised when a step's pre-check or forward/backward action fails."""

    def __init__(self, revision: int, action: str, reason: str) -> None:
        self.revision = revision
        self.action = action
        self.reason = reason
        super().__init__(f"phase {revision} {action} failed: {reason}")


class AdapterUnavailable(PhasesError):
    """Raised when a real adapter's backing package or API is not available yet."""

    exit_code = ExitCode.UNSUPPORTED

    def __init__(self, port: str, reason: str) -> None:
        self.port = port
        self.reason = reason
        super().__init__(f"{port} unavailable: {reason}")


class DiscoveryError(PhasesError):
    """Raised when discovery cannot read the database or the recorded calls file."""

    def __init__(self, source: str, reason: str) -> None:
        self.source = source
        self.reason = reason
        super().__init__(f"discovery failed reading {source}: {reason}")


class RecordingInvalid(DiscoveryError):
    """Raised when a recorded calls or writes file given to ``cutover discover`` has a line
    that cannot be read (``source`` is ``path:line``)."""

    exit_code = ExitCode.INVALID_INPUT


class EndpointMissing(PhasesError):
    """Raised when a command needs a service address (``what``) that neither its flag nor
    its environment variable gives; there is no built-in default address."""

    exit_code = ExitCode.INVALID_INPUT

    def __init__(self, what: str, flag: str, env: str) -> None:
        self.what = what
        self.flag = flag
        self.env = env
        super().__init__(f"{what} not given", hint=f"pass {flag} or set {env}")


class StoreUnreachable(PhasesError):
    """Raised when the state store's database cannot be reached (connection refused, auth)."""

    exit_code = ExitCode.UNREACHABLE

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(
            f"state store unreachable: {reason}",
            hint="check --state-url / CUTOVER_STATE_URL and that the database is up",
        )


class InstancesLagging(PhasesError):
    """Raised by ``advance`` / ``rollback`` after the modes were written, when some live
    application instances still report another mode once the wait is over (``laggards``:
    one ``instance: context mode (not expected)`` line each). The transition itself is done
    and audited; the command exits 10 (mid-change) until the instances catch up."""

    exit_code = ExitCode.CONFLICT

    def __init__(self, laggards: list[str], live: int, waited_s: float) -> None:
        self.laggards = laggards
        self.live = live
        self.waited_s = waited_s
        super().__init__(
            f"{len(laggards)} of {live} live instance(s) still run the old mode after "
            f"{waited_s:g}s: {'; '.join(laggards)}",
            hint="check those instances (a stuck cache or a paused process); "
            "the new modes are written",
        )
