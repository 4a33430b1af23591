"""Time series of a rehearsal: what the pipeline did, sampled every few seconds while it ran.

A small sampler thread reads, at each tick, only what is already measurable: the traffic
generator's answers (requests and errors since the last tick, fed by ``run_traffic``'s
``on_sample`` hook), the gates' own lag probe (consumer lag in messages and ms, dead-letter
topic size), the shadow store's processed-event rows (end-to-end lag p50/p99 of the events
processed since the last tick) and the comparators (keys matched and not matched so far in
the phase, judged as the phase's gate would). Faults are marked on the same time axis.

A probe that fails gives ``None`` for its figures at that tick — a gap in a line, never a
zero. The values (:class:`Tick`, :class:`Mark`) and the series built from them are pure;
:class:`StackProbes` is the one class here that talks to Kafka and Postgres.
"""

from __future__ import annotations

import io
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

import structlog

log = structlog.get_logger(__name__)

INTERVAL_S = 3.0
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Lag:
    """The shadow group's lag at one tick."""

    messages: int
    ms: float | None
    dead_lettered: int


@dataclass(frozen=True, slots=True)
class Tick:
    """One sample; ``at`` is seconds since the timeline started."""

    at: float
    phase: int
    requests: int = 0
    errors: int = 0
    lag_messages: int | None = None
    lag_ms: float | None = None
    dead_lettered: int | None = None
    e2e_p50_ms: float | None = None
    e2e_p99_ms: float | None = None
    matched: int | None = None
    mismatched: int | None = None
    segment: int = 0
    """Counts the phases entered; a phase entered again later starts a new segment."""


@dataclass(frozen=True, slots=True)
class Mark:
    """A moment to mark on the time axis (a fault injected)."""

    at: float
    phase: int
    label: str


class Probes(Protocol):
    """What the sampler reads; each call may raise (the tick then records a gap)."""

    def lag(self) -> Lag: ...

    def end_to_end(self, since: datetime) -> tuple[float, float] | None:
        """p50 and p99 (ms) of commit-to-processed time of events processed since ``since``;
        ``None`` when none was."""
        ...

    def comparison(self, phase: int, window_s: float) -> tuple[int, int] | None:
        """Keys matched and not matched among those of the last ``window_s`` seconds, or
        ``None`` when the phase compares nothing."""
        ...


def _safe(probe: Callable[[], T], what: str) -> T | None:
    try:
        return probe()
    except Exception as exc:  # a probe that cannot read leaves a gap, it never stops the run
        log.debug("timeline probe failed", probe=what, error=f"{type(exc).__name__}: {exc}")
        return None


class Timeline:
    """Samples ``probes`` every ``interval`` seconds on a daemon thread between
    :meth:`start` and :meth:`stop`; :meth:`tick` takes one sample (tests call it directly).
    A comparison reads every key of the phase, so it runs every ``compare_every`` ticks."""

    def __init__(
        self,
        probes: Probes,
        *,
        interval: float = INTERVAL_S,
        compare_every: int = 3,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.probes, self.interval, self.clock, self.now = probes, interval, clock, now
        self.compare_every = max(1, compare_every)
        self.started = clock()
        self.ticks: list[Tick] = []
        self.marks: list[Mark] = []
        self.phase = self.segment = 0
        self._phase_since = self.started
        self._requests = self._errors = 0
        self._last_wall = now()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _at(self) -> float:
        return round(self.clock() - self.started, 2)

    def enter(self, phase: int) -> None:
        """The phase whose traffic follows (ticks are labelled with it)."""
        with self._lock:
            if phase != self.phase:
                self.segment += 1
            self.phase, self._phase_since = phase, self.clock()

    def mark(self, label: str) -> None:
        with self._lock:
            self.marks.append(Mark(self._at(), self.phase, label))

    def on_sample(self, sample: Any) -> None:
        """``run_traffic``'s hook: one request answered (an error when not as expected)."""
        with self._lock:
            self._requests += 1
            self._errors += 0 if getattr(sample, "as_expected", True) else 1

    def tick(self) -> Tick:
        with self._lock:
            phase, segment, since_phase = self.phase, self.segment, self.clock() - self._phase_since
            requests, errors = self._requests, self._errors
            self._requests = self._errors = 0
        wall, self._last_wall = self._last_wall, self.now()
        lag = _safe(self.probes.lag, "lag")
        e2e = _safe(lambda: self.probes.end_to_end(wall), "end_to_end")
        compared = None
        if len(self.ticks) % self.compare_every == 0:  # a whole comparison: not at every tick
            compared = _safe(lambda: self.probes.comparison(phase, since_phase + 5), "comparison")
        tick = Tick(
            self._at(),
            phase,
            requests,
            errors,
            None if lag is None else lag.messages,
            None if lag is None else lag.ms,
            None if lag is None else lag.dead_lettered,
            None if e2e is None else round(e2e[0], 1),
            None if e2e is None else round(e2e[1], 1),
            None if compared is None else compared[0],
            None if compared is None else compared[1],
            segment,
        )
        with self._lock:
            self.ticks.append(tick)
        return tick

    def _loop(self) -> None:
        # this thread's log lines (a comparison's ``compare.done``) say they are the sampler's,
        # not a gate's: a sampled comparison judges keys mid-phase, before they settle
        structlog.contextvars.bind_contextvars(sampler="timeline")
        while not self._stop.wait(self.interval):
            self.tick()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="timeline", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.interval * 5 + 30)

    def to_dict(self) -> dict[str, Any]:
        with self._lock:
            return {
                "interval_s": self.interval,
                "compare_every": self.compare_every,
                "ticks": [asdict(t) for t in self.ticks],
                "marks": [asdict(m) for m in self.marks],
            }


# -- the stack's probes -------------------------------------------------------------------------
_E2E_SQL = """
SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms), percentile_cont(0.99) WITHIN GROUP
       (ORDER BY ms)
FROM (SELECT extract(epoch FROM processed_at - event_ts) * 1000 AS ms
      FROM {schema}.processed_events WHERE processed_at > %s) AS recent
"""

# The comparison each phase's gate makes: dual-write and the rollback drill compare the
# event path with the sync one, async compares the sync calls' dry runs with the events.
CANDIDATE_FOR = {3: "event", 40: "event", 4: "verify"}


class StackProbes:
    """Reads the rehearsal's Kafka group, shadow store and comparisons (see :class:`Probes`)."""

    def __init__(
        self,
        plan: Any,
        context: str,
        *,
        kafka: Mapping[str, Any],
        dsn: str,
        environ: Mapping[str, str],
        shadow_schema: str = "shadow",
    ) -> None:
        from phases.adapters_comparators import ComparatorsRunner
        from phases.adapters_kafka import KafkaLagProbe

        self.context, self.dsn, self.schema = context, dsn, shadow_schema
        # librdkafka's info lines (one per client closed) would flood the terminal every tick
        self._lag = KafkaLagProbe(plan, {**kafka, "log_level": 4})
        self._scratch = Path(tempfile.mkdtemp(prefix="cutover-timeline-"))
        self._compare = ComparatorsRunner(
            plan, dict(environ), self._scratch, execute=self._quiet_compare
        )

    @staticmethod
    def _quiet_compare(config: Any, _out_dir: Path) -> Any:
        from comparators.commands import run_compare

        return run_compare(config, stdout=io.StringIO(), as_json=True)

    def lag(self) -> Lag:
        snap = self._lag.lag(self.context)
        return Lag(snap.lag_messages, snap.lag_ms, snap.dead_lettered)

    def end_to_end(self, since: datetime) -> tuple[float, float] | None:
        import psycopg

        with psycopg.connect(self.dsn, autocommit=True, connect_timeout=5) as conn:
            row = conn.execute(_E2E_SQL.format(schema=self.schema), (since,)).fetchone()
        if row is None or row[0] is None:
            return None
        return float(row[0]), float(row[1])

    def comparison(self, phase: int, window_s: float) -> tuple[int, int] | None:
        candidate = CANDIDATE_FOR.get(phase)
        if candidate is None:
            return None
        summary = self._compare.compare(
            self.context, candidate=candidate, window_seconds=window_s, min_keys=0
        )
        return summary.matched, summary.settled_keys - summary.matched

    def close(self) -> None:
        shutil.rmtree(self._scratch, ignore_errors=True)


# -- series for the report (pure) ---------------------------------------------------------------
def phase_ticks(timeline: Mapping[str, Any], phase: int) -> list[dict[str, Any]]:
    return [t for t in timeline.get("ticks", []) if t.get("phase") == phase]


def series(
    ticks: list[dict[str, Any]], field: str, *, interval: float, sparse: bool = False
) -> tuple[tuple[float, float | None], ...]:
    """``(at, value)`` of ``field``; where the phase resumed later (a new segment) a gap,
    drawn as a break in the line. A ``sparse`` field (read every few ticks only) skips the
    ticks that did not read it instead of breaking its line."""
    points: list[tuple[float, float | None]] = []
    last: tuple[float, int] | None = None
    for t in ticks:
        at, value, segment = float(t["at"]), t.get(field), int(t.get("segment", 0))
        if sparse and value is None:
            continue
        if last is not None and segment != last[1]:
            points.append((min(last[0] + interval, at), None))
        points.append((at, None if value is None else float(value)))
        last = (at, segment)
    return tuple(points)
