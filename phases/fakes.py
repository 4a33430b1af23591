"""In-memory fakes of every port in :mod:`phases.ports`, for unit tests and ``--dry-run`` demos.

Each fake starts healthy (gates pass) and exposes plain attributes a test flips to make a
gate warn, fail or lack samples.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cutover.state.errors import StateNotInitialised
from cutover_common.modes import Mode
from cutover_common.topics import TopicSpecValue, missing_topics
from phases.ports import (
    CanaryResult,
    ComparisonSummary,
    ConnectorSnapshot,
    InvariantResult,
    LagSnapshot,
    Ports,
    SchemaReport,
    TaskState,
)


class InMemoryModeStore:
    """The mode table in memory; ``initialised=False`` stands for a database where ``cutover
    init`` never ran (every call raises :class:`StateNotInitialised`, as the SQL store does)."""

    def __init__(
        self,
        modes: Mapping[str, Mode] | None = None,
        *,
        initialised: bool = True,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.modes: dict[str, Mode] = dict(modes or {})
        self.writes: list[tuple[str, Mode, str]] = []
        self.initialised = initialised
        self.clock = clock
        self.entered: dict[str, datetime] = {}

    def _require(self) -> None:
        if not self.initialised:
            raise StateNotInitialised("application", "cutover")

    def get_modes(self) -> dict[str, Mode]:
        self._require()
        return dict(self.modes)

    def set_modes(self, modes: Mapping[str, Mode], *, actor: str) -> None:
        self._require()
        at = self.clock()  # one write, one time (as one transaction)
        for context, mode in modes.items():
            self.modes[context] = mode
            self.writes.append((context, mode, actor))
            self.entered[context] = at

    def entered_at(self) -> dict[str, datetime]:
        self._require()
        return dict(self.entered)


class FakeTopicAdmin:
    def __init__(self) -> None:
        self.topics: dict[str, TopicSpecValue] = {}

    def ensure_topics(self, specs: Sequence[TopicSpecValue]) -> list[str]:
        created = missing_topics(specs, set(self.topics))  # an existing topic stays as it is
        self.topics.update({s.name: s for s in created})
        return [s.name for s in created]

    def existing_topics(self) -> set[str]:
        return set(self.topics)


class FakeConnectorAdmin:
    def __init__(self, name: str = "cutover-outbox") -> None:
        self.name = name
        self.applied = False
        self.fail_apply: str | None = None
        self.resnapshot: list[str] = []

    def apply_outbox_connector(self) -> str:
        if self.fail_apply:
            raise RuntimeError(self.fail_apply)
        self.applied = True
        return self.name

    def resnapshot_reasons(self) -> list[str]:
        return list(self.resnapshot)

    def delete_connector(self) -> None:
        self.applied = False


def running_snapshot(name: str = "cutover-outbox") -> ConnectorSnapshot:
    return ConnectorSnapshot(name, "RUNNING", (TaskState(0, "RUNNING"),), True, 1000.0)


class FakeHealthProbe:
    """``raises``: an exception the probe raises instead (Connect unreachable)."""

    def __init__(self, snapshot: ConnectorSnapshot | None = None) -> None:
        self.snap = snapshot or running_snapshot()
        self.raises: Exception | None = None

    def snapshot(self) -> ConnectorSnapshot:
        if self.raises is not None:
            raise self.raises
        return self.snap


class FakeCanary:
    def __init__(self, result: CanaryResult | None = None) -> None:
        self.result = result or CanaryResult(True, 120.0)

    def round_trip(self, timeout_ms: float) -> CanaryResult:
        return self.result


class FakeLag:
    """``raises``: an exception the probe raises instead (Kafka unreadable)."""

    def __init__(self) -> None:
        self.per_context: dict[str, LagSnapshot] = {}
        self.raises: Exception | None = None

    def lag(self, context: str) -> LagSnapshot:
        if self.raises is not None:
            raise self.raises
        default = LagSnapshot(f"shadow-{context}", 0, 10.0, 0, members=1, topic=f"{context}")
        return self.per_context.get(context, default)


@dataclass
class FakeComparison:
    """Returns ``pass`` over ``keys`` keys unless a summary is set per (context, candidate)."""

    keys: int = 5000
    summaries: dict[tuple[str, str], ComparisonSummary] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    since: list[datetime | None] = field(default_factory=list)
    """The ``since`` of each call (when the context entered its mode)."""
    raises: Exception | None = None

    def compare(
        self,
        context: str,
        *,
        candidate: str,
        window_seconds: float,
        min_keys: int,
        since: datetime | None = None,
    ) -> ComparisonSummary:
        self.calls.append((context, candidate))
        self.since.append(since)
        if self.raises is not None:
            raise self.raises
        default = ComparisonSummary(context, "pass", self.keys, self.keys, {"match": self.keys})
        return self.summaries.get((context, candidate), default)


class FakeSchemas:
    def __init__(self) -> None:
        self.incompatible: dict[str, str] = {}

    def check(self, context: str, events: Sequence[str]) -> SchemaReport:
        reason = self.incompatible.get(context)
        return SchemaReport(reason is None, (reason,) if reason else ())


class FakeSyncCalls:
    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def count(self, context: str, since: datetime) -> int:
        return self.counts.get(context, 0)


class FakeInvariants:
    def __init__(self) -> None:
        self.broken: dict[str, int] = {}

    def check(
        self, context: str, invariants: Sequence[str], window_seconds: float
    ) -> list[InvariantResult]:
        return [InvariantResult(n, n not in self.broken, self.broken.get(n, 0)) for n in invariants]


class FakeShadow:
    def __init__(self) -> None:
        self.running: set[str] = set()

    def start(self, contexts: Sequence[str]) -> None:
        self.running.update(contexts)

    def stop(self, contexts: Sequence[str]) -> None:
        self.running.difference_update(contexts)


def fake_ports(modes: InMemoryModeStore | None = None) -> Ports:
    """A healthy set of fakes (every gate passes until a test changes one)."""
    return Ports(
        modes=modes or InMemoryModeStore(),
        topics=FakeTopicAdmin(),
        connector=FakeConnectorAdmin(),
        health=FakeHealthProbe(),
        canary=FakeCanary(),
        lag=FakeLag(),
        comparison=FakeComparison(),
        schemas=FakeSchemas(),
        sync_calls=FakeSyncCalls(),
        invariants=FakeInvariants(),
        shadow=FakeShadow(),
        shadow_connector=FakeConnectorAdmin("cutover-shadow-outbox"),
    )
