"""The ports the phase steps and gates talk through, with the values they return.

Real adapters live in :mod:`phases.adapters` (Kafka, Connect via ``cdc``, ``comparators``,
the legacy database); in-memory fakes in :mod:`phases.fakes`. Steps never import those
packages: they receive a :class:`Ports` bundle on their context object.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from cutover_common.modes import Mode
from cutover_common.topics import TopicSpecValue

LEFT_OUT: tuple[str, ...] = ("pending", "out_of_scope", "inconclusive")
"""Comparison count keys a gate counts as left out, not judged: keys whose event may still
come (``pending``), keys written while their context was in ``sync`` (``out_of_scope``),
and verify runs a downstream left without an answer (``inconclusive``)."""


@dataclass(frozen=True, slots=True)
class TaskState:
    """One Kafka Connect task and its state (RUNNING, FAILED, PAUSED, UNASSIGNED)."""

    id: int
    state: str
    trace: str | None = None


@dataclass(frozen=True, slots=True)
class ConnectorSnapshot:
    """What the broker gate needs to know about the outbox connector."""

    name: str
    state: str
    tasks: tuple[TaskState, ...] = ()
    slot_active: bool | None = None
    heartbeat_age_ms: float | None = None
    reasons: tuple[str, ...] = ()
    unreadable: str | None = None
    """Why Kafka Connect could not be read (unreachable, timed out, 5xx): the connector and
    task states are then unknown, not failed; ``None`` when it answered."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "state": self.state,
            "tasks": [{"id": t.id, "state": t.state} for t in self.tasks],
            "slot_active": self.slot_active,
            "heartbeat_age_ms": self.heartbeat_age_ms,
            "reasons": list(self.reasons),
            "unreadable": self.unreadable,
        }


@dataclass(frozen=True, slots=True)
class CanaryResult:
    """A canary event's round trip through outbox -> Debezium -> Kafka."""

    ok: bool
    latency_ms: float | None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Unmeasured:
    """An input a gate could not read: the port and why (one redacted line).

    The gate turns it into ``unknown`` checks (:func:`phases.gates.unknown_checks`); it
    never passes.
    """

    port: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"unmeasured": True, "port": self.port, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class LagSnapshot:
    """Where the shadow group stands on a context's topic, and its dead-lettered messages.

    ``lag_messages`` counts from the group's position (its committed offset, or the log
    start when retention or ``delete_records`` passed it: deleted records are not lag);
    ``lag_ms`` is the age of the oldest unconsumed record (0 when nothing is behind,
    ``None`` when it could not be read); ``expired`` counts records deleted before the group
    read them; ``members`` the group's live members (``None`` when it could not be read).
    """

    group: str
    lag_messages: int
    lag_ms: float | None = None
    dead_lettered: int = 0
    per_partition: Mapping[str, int] = field(default_factory=dict)
    expired: int = 0
    members: int | None = None
    topic: str = ""
    stuck: tuple[str, ...] = ()
    """Where the group's workers said they cannot go on (``stuck at <topic>:<p>@<offset>:
    <reason>``, :mod:`shadow.stuck`)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "topic": self.topic,
            "lag_messages": self.lag_messages,
            "lag_ms": self.lag_ms,
            "expired": self.expired,
            "members": self.members,
            "dead_lettered": self.dead_lettered,
            "per_partition": dict(self.per_partition),
            "stuck": list(self.stuck),
        }


@dataclass(frozen=True, slots=True)
class ComparisonSummary:
    """A comparator run's verdict for one context (control = sync, candidate = event/verify).

    ``violations`` counts each business invariant's violations (over both sides) found by
    the same run, ``violation_details`` samples their reasons, so one run answers both the
    comparison and the invariants (:meth:`invariant_results`). ``noise_floor`` is the A/A
    disagreement rate the comparator credited (from the gate's ``noise_floor``).
    """

    context: str
    verdict: str  # pass | warn | fail | low-confidence
    settled_keys: int
    matched: int
    counts: Mapping[str, int] = field(default_factory=dict)
    reasons: tuple[str, ...] = ()
    report_paths: tuple[str, ...] = ()
    samples: tuple[Mapping[str, Any], ...] = ()
    violations: Mapping[str, int] = field(default_factory=dict)
    violation_details: Mapping[str, str] = field(default_factory=dict)
    noise_floor: float = 0.0
    error: str | None = None
    """The database's one-line message when an outcome query failed (no figures then)."""

    @classmethod
    def failed(cls, context: str, error: str) -> ComparisonSummary:
        """The summary of a run whose outcome query failed (bad SQL, renamed column)."""
        return cls(context, "fail", 0, 0, reasons=(error,), error=error)

    @property
    def left_out(self) -> dict[str, int]:
        """Keys the comparison did not judge, per reason (:data:`LEFT_OUT`), when non-zero."""
        return {k: int(self.counts[k]) for k in LEFT_OUT if self.counts.get(k)}

    @property
    def left_out_share(self) -> float:
        """Keys left out over the keys judged plus left out (0 when there were none)."""
        left = sum(self.left_out.values())
        total = self.settled_keys + left
        return left / total if total else 0.0

    @property
    def match_rate(self) -> float:
        return self.matched / self.settled_keys if self.settled_keys else 0.0

    @property
    def adjusted_match_rate(self) -> float:
        """The match rate with the A/A noise floor credited (at most 1)."""
        return min(1.0, self.match_rate + self.noise_floor) if self.settled_keys else 0.0

    def invariant_results(self, names: Sequence[str]) -> list[InvariantResult]:
        """``names`` judged from this run's violations (no second comparison)."""
        return [
            InvariantResult(
                n,
                self.error is None and self.violations.get(n, 0) == 0,
                self.violations.get(n, 0),
                self.violation_details.get(n, ""),
                self.error,
            )
            for n in names
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "context": self.context,
            "verdict": self.verdict,
            "settled_keys": self.settled_keys,
            "matched": self.matched,
            "match_rate": self.match_rate,
            "noise_floor": self.noise_floor,
            "adjusted_match_rate": self.adjusted_match_rate,
            "counts": dict(self.counts),
            "left_out": self.left_out,
            "left_out_share": self.left_out_share,
            "error": self.error,
            "violations": dict(self.violations),
            "reasons": list(self.reasons),
            "report_paths": list(self.report_paths),
            "samples": [dict(s) for s in self.samples],
        }


@dataclass(frozen=True, slots=True)
class InvariantResult:
    """One business invariant checked over a window."""

    name: str
    holds: bool
    violations: int = 0
    detail: str = ""
    error: str | None = None
    """The database's one-line message when the run behind the invariant failed to read."""


@dataclass(frozen=True, slots=True)
class SchemaReport:
    """Whether the events seen on a context's topic are compatible with the registered schemas."""

    compatible: bool
    reasons: tuple[str, ...] = ()


class ModeStore(Protocol):
    """Reads and writes the per-context mode table the application reads. On a database
    where ``cutover init`` never ran, both raise
    :class:`~cutover.state.errors.StateNotInitialised` and create nothing."""

    def get_modes(self) -> dict[str, Mode]: ...

    def set_modes(self, modes: Mapping[str, Mode], *, actor: str) -> None: ...

    def entered_at(self) -> dict[str, datetime]:
        """When each context's current mode was written (the mode table's ``updated_at``):
        a gate's comparisons judge no key written before it."""
        ...


class TopicAdmin(Protocol):
    def ensure_topics(self, specs: Sequence[TopicSpecValue]) -> list[str]:
        """Create missing topics; return the names created."""
        ...

    def existing_topics(self) -> set[str]: ...


class ConnectorAdmin(Protocol):
    def apply_outbox_connector(self) -> str:
        """Create or update the outbox connector from the plan; return its name."""
        ...

    def resnapshot_reasons(self) -> list[str]:
        """What applying the plan's connector would cause that publishes its outbox again
        (``cdc.resnapshot``), compared with what runs on Connect; empty when nothing would."""
        ...

    def delete_connector(self) -> None: ...


class ConnectorHealthProbe(Protocol):
    def snapshot(self) -> ConnectorSnapshot: ...


class CanaryProbe(Protocol):
    def round_trip(self, timeout_ms: float) -> CanaryResult: ...


class LagProbe(Protocol):
    def lag(self, context: str) -> LagSnapshot: ...


class ComparisonRunner(Protocol):
    def compare(
        self,
        context: str,
        *,
        candidate: str,
        window_seconds: float,
        min_keys: int,
        since: datetime | None = None,
    ) -> ComparisonSummary:
        """Compare sync (control) with ``candidate`` ("event" or "verify") outcomes of the
        keys of the last ``window_seconds``, none written before ``since`` (the time the
        context entered its current mode)."""
        ...


class SchemaChecker(Protocol):
    def check(self, context: str, events: Sequence[str]) -> SchemaReport: ...


class SyncCallCounter(Protocol):
    def count(self, context: str, since: datetime) -> int:
        """Synchronous calls made for ``context`` since ``since``."""
        ...


class InvariantChecker(Protocol):
    def check(
        self, context: str, invariants: Sequence[str], window_seconds: float
    ) -> list[InvariantResult]: ...


class ShadowPipeline(Protocol):
    def start(self, contexts: Sequence[str]) -> None: ...

    def stop(self, contexts: Sequence[str]) -> None: ...


@dataclass(frozen=True, slots=True)
class Ports:
    """Everything the steps and gates reach the outside world through."""

    modes: ModeStore
    topics: TopicAdmin
    connector: ConnectorAdmin
    health: ConnectorHealthProbe
    canary: CanaryProbe
    lag: LagProbe
    comparison: ComparisonRunner
    schemas: SchemaChecker
    sync_calls: SyncCallCounter
    invariants: InvariantChecker
    shadow: ShadowPipeline
    shadow_connector: ConnectorAdmin | None = None
    """The shadow outbox's connector (the plan's ``shadow_outbox:``), applied entering phase 3."""
