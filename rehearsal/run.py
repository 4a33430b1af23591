"""`cutover rehearse`: migrate a system phase by phase on the local stack.

The system is whatever :class:`~rehearsal.system.System` adapter the rehearsal is given (the
sample monolith by default, ``--system examples/helpdesk`` another); nothing here names one.
Stack up → fresh database → the system's app services → phase 1 (discover, identify) → phase 2
(topics, Debezium outbox connector, canary) → phase 3 (dual-write, shadow workers,
traffic, faults, comparator gate) → phase 4 (async, rollback drill, reverse comparison)
→ phase 5 (events-only, zero sync calls, invariants). Every gate is evaluated by
:mod:`phases` on real evidence; the rehearsal passes only when every gate passed.
"""

from __future__ import annotations

import io
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

from comparators.verdict import wilson_keys_needed
from cutover_common.errors import CutoverError
from rehearsal.environment import RehearsalEnvironment
from rehearsal.errors import NotReadyError
from rehearsal.faults import FaultRecord, inject
from rehearsal.scenario import Fault, FaultKind, Scenario, ScenarioError
from rehearsal.stack.topology import Topology
from rehearsal.system import System, load_system

log = structlog.get_logger(__name__)

# About this share of the requests of a burst become settled keys (the rest are malformed,
# declined or out of stock by design).
SETTLED_PER_REQUEST = 0.7
# In phase 4 fewer: the injected downstream errors fail orders and leave verify runs without
# an answer (64 of 160 requests, and 126 of 300, were judged keys).
VERIFIED_PER_REQUEST = 0.4

# 40 is the rollback drill with traffic inside phase 4: back to dual, compare, forward again.

PHASE_NAMES = {
    1: "identify",
    2: "broker",
    3: "dual-write",
    4: "async",
    40: "rollback drill",
    5: "events-only",
}


@dataclass
class PhaseRow:
    """One phase of the rehearsal as the summary shows it."""

    phase: int
    name: str
    status: str = "pending"  # entered | gate passed | gate failed | reverted | skipped
    verdict: str = "-"
    keys: int | None = None
    match_rate: float | None = None
    lag: int | None = None
    dead_lettered: int | None = None
    orders_sent: int = 0
    faults: list[FaultRecord] = field(default_factory=list)
    seconds: float = 0.0
    evidence: str | None = None
    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what was left out, and why
    gates: list[dict[str, Any]] = field(default_factory=list)  # each evaluation, its checks
    traffic_checks: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "phase": self.phase,
            "name": self.name,
            "status": self.status,
            "verdict": self.verdict,
            "keys": self.keys,
            "match_rate": self.match_rate,
            "lag": self.lag,
            "dead_lettered": self.dead_lettered,
            "orders_sent": self.orders_sent,
            "faults": [_fault_dict(f) for f in self.faults],
            "seconds": round(self.seconds, 1),
            "evidence": self.evidence,
            "reasons": self.reasons,
            "notes": self.notes,
            "gates": self.gates,
            "traffic_checks": self.traffic_checks,
        }


def inconclusive_left_out(outcome: Any, context: str) -> int:
    """Keys the phase-4 gate's reverse comparison of ``context`` left out as inconclusive
    (verify runs a downstream gave no answer): the count the gate's left-out check states."""
    gate = getattr(outcome, "gate", None)
    if gate is None:
        return 0
    comparison = (gate.snapshots.get("reverse_comparison") or {}).get(context) or {}
    return int((comparison.get("left_out") or {}).get("inconclusive", 0))


def _gate_view(gate: Any, evidence: Any) -> dict[str, Any]:
    """One gate evaluation as the report shows it: its checks, the comparison figures (no
    samples) and where its evidence page is."""
    comparisons = {
        name: {
            ctx: {k: v for k, v in snap.items() if k not in ("samples", "report_paths")}
            for ctx, snap in (gate.snapshots.get(name) or {}).items()
        }
        for name in ("comparison", "reverse_comparison")
        if gate.snapshots.get(name)
    }
    return {
        "gate": gate.gate,
        "phase": gate.phase,
        "verdict": gate.verdict.value,
        "checks": [c.to_dict() for c in gate.checks],
        "snapshots": comparisons,
        "evidence_html": None if evidence is None else evidence.html_path,
    }


def _fault_dict(f: FaultRecord) -> dict[str, Any]:
    return {
        "kind": f.kind,
        "phase": f.phase,
        "detail": f.detail,
        "seconds": round(f.seconds, 1),
        "injected": f.injected,
    }


@dataclass
class RehearsalResult:
    """What the rehearsal did and whether every gate passed honestly."""

    scenario: str
    run_id: str
    rows: list[PhaseRow]
    passed: bool
    seconds: float
    failing_keys: list[dict[str, Any]] = field(default_factory=list)
    report_paths: list[str] = field(default_factory=list)
    error: str | None = None
    timeline: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "run_id": self.run_id,
            "passed": self.passed,
            "seconds": round(self.seconds, 1),
            "phases": [r.to_dict() for r in self.rows],
            "failing_keys": self.failing_keys,
            "report_paths": self.report_paths,
            "error": self.error,
            "timeline": self.timeline,
        }


@dataclass(frozen=True, slots=True)
class RehearseOptions:
    """Knobs of one rehearsal."""

    scenario: Scenario
    keep: bool = False
    rate: float | None = None
    seconds: float | None = None
    system: System | None = None
    """The system rehearsed (its adapter); ``None``: the sample."""


def check_scenario(scenario: Scenario, system: System) -> None:
    """Refuse a scenario ``system`` cannot run: a context it does not have, a downstream fault
    on a service it does not have (one line each)."""
    errors: list[str] = []
    if scenario.context not in system.contexts:
        errors.append(
            f"context: {scenario.context!r} is not a context of {system.name} "
            f"(has: {', '.join(system.contexts)})"
        )
    errors += [
        f"faults.{i}.service: {f.service!r} is not a service of {system.name} "
        f"(has: {', '.join(system.services)})"
        for i, f in enumerate(scenario.faults)
        if f.kind is FaultKind.DOWNSTREAM_ERRORS and f.service not in system.services
    ]
    if errors:
        raise ScenarioError(scenario.name, errors)


Say = Callable[[str], None]


class Rehearsal:
    """Runs the phases of one scenario; see the module docstring."""

    def __init__(self, topology: Topology, options: RehearseOptions, say: Say) -> None:
        traffic = options.scenario.traffic
        if options.rate or options.seconds:
            traffic = traffic.model_copy(
                update={
                    "rate": options.rate or traffic.rate,
                    "seconds": options.seconds or traffic.seconds,
                }
            )
        self.scenario = options.scenario.model_copy(update={"traffic": traffic})
        self.system = options.system or load_system()
        check_scenario(self.scenario, self.system)
        self.options = options
        self.say = say
        self.run_id = time.strftime("%H%M%S") + uuid.uuid4().hex[:4]
        self.env = RehearsalEnvironment(topology, self.scenario, self.run_id, system=self.system)
        self.rows = {p: PhaseRow(p, n) for p, n in PHASE_NAMES.items()}
        self.seed_offset = 0
        self.failing_keys: list[dict[str, Any]] = []
        self.runner: Any = None
        self.timeline: Any = None  # rehearsal.timeline.Timeline once the runner is built

    # -- plumbing -----------------------------------------------------------------------------
    def _build_runner(self) -> Any:
        import os

        from phases.commands import CommandConfig, build_runner

        poison = sum(f.count for f in self.scenario.faults if f.kind is FaultKind.POISON_EVENTS)
        self.env.poison_injected = poison
        self.env.write_plan(min_settled_keys=self._min_keys())
        # The plan's outcome callables run in this process and read the database from here.
        os.environ.update(self.env.environ())
        config = CommandConfig(
            plan_path=self.env.plan_path,
            reports_dir=self.env.reports_dir,
            actor="rehearsal",
            stdout=io.StringIO(),
            environ={**os.environ, **self.env.environ()},
        )
        return build_runner(config, say=self.say)

    def _burst_seconds(self, min_match_rate: float, settled_per_request: float) -> float:
        """A gated burst: the scenario's seconds, or longer when that traffic cannot give a
        perfect record enough keys (with a margin of half again) for the comparator's Wilson
        lower bound to reach ``min_match_rate`` — the gates judge only keys placed since the
        context's mode change (0.97 needs 125 matching keys; the tests' 8 s at 20/s gave the
        drill 119, and phase 4 at 0.95, which needs 73, only 64: paused gates)."""
        t = self.scenario.traffic
        needed = wilson_keys_needed(min_match_rate) * 1.5
        return max(t.seconds, needed / (settled_per_request * t.rate))

    def _min_keys(self) -> int:
        t = self.scenario.traffic
        return max(20, int(t.rate * t.seconds * 0.4))

    def traffic_burst(
        self, phase: int, seconds: float | None = None, faults: list[Fault] | None = None
    ) -> Any:
        """Generate one burst of traffic, injecting ``faults`` (default: the scenario's for
        ``phase``) at evenly spaced moments; restarts of Postgres run after the burst.
        Returns the traffic report."""
        t = self.scenario.traffic
        if seconds is not None:
            t = t.model_copy(update={"seconds": seconds})
        chosen = self.scenario.faults_in(phase) if faults is None else faults
        chosen = [f for f in chosen if f.kind is not FaultKind.NAIVE_DUAL_CRASH]
        mid = [f for f in chosen if f.kind is not FaultKind.RESTART_POSTGRES]
        quiet = [f for f in chosen if f.kind is FaultKind.RESTART_POSTGRES]
        seed = t.seed + self.seed_offset
        self.seed_offset += 1
        names = self.env.names()
        result: dict[str, Any] = {}
        hook = None
        if self.timeline is not None:
            self.timeline.enter(phase)
            hook = self.timeline.on_sample

        def play() -> None:
            result["report"] = self.system.traffic(
                names,
                seed=seed,
                rate=t.rate,
                seconds=t.seconds,
                concurrency=t.concurrency,
                on_sample=hook,
            )

        worker = threading.Thread(target=play, daemon=True)
        worker.start()
        for fault in mid:
            time.sleep(t.seconds / (len(mid) + 1))
            self.rows[phase].faults.append(self._inject(fault))
        worker.join()
        report = result.get("report")
        if report is not None:
            self.rows[phase].orders_sent += report.sent
            self.rows[phase].reasons.extend(
                f"traffic: {c.name}: {c.detail}" for c in report.checks if not c.passed
            )
            self.rows[phase].traffic_checks.extend(
                {"name": c.name, "verdict": "pass" if c.passed else "fail", "detail": c.detail}
                for c in report.checks
            )
        for service in sorted({f.service for f in mid if f.kind is FaultKind.DOWNSTREAM_ERRORS}):
            self.env.clear_service_faults(service)  # the other services never stopped
        for fault in quiet:  # restarts of the database run between bursts of traffic
            self.rows[phase].faults.append(self._inject(fault))
        return report

    def _inject(self, fault: Fault) -> FaultRecord:
        self.say(f"fault: {fault.kind.value}")
        if self.timeline is not None:
            self.timeline.mark(fault.kind.value)
        return inject(self.env, fault)

    def _record(self, phase: int, outcome: Any, t0: float) -> bool:
        """Fill the row of the phase whose gate ``outcome`` evaluated; True when it passed."""
        row = self.rows[phase]
        row.seconds += time.monotonic() - t0
        gate = outcome.gate
        if gate is not None:
            row.verdict = gate.verdict.value
            row.reasons.extend(gate.reasons)
            self._absorb_snapshots(row, gate.snapshots)
            row.gates.append(_gate_view(gate, outcome.evidence))
        if outcome.evidence is not None:
            row.evidence = outcome.evidence.path
        passed = outcome.status == "done" and (
            gate is None or gate.verdict.value in ("pass", "warn")
        )
        row.status = (
            "gate passed"
            if passed
            else (
                "gate failed, reverted"
                if outcome.status == "reverted"
                else f"gate {outcome.status}"
            )
        )
        return passed

    def _absorb_snapshots(self, row: PhaseRow, snapshots: Any) -> None:
        ctx = self.scenario.context
        comparison = (snapshots.get("comparison") or snapshots.get("reverse_comparison") or {}).get(
            ctx
        )
        if comparison:
            row.keys = int(comparison.get("settled_keys", 0))
            row.match_rate = float(comparison.get("match_rate", 0.0))
            if comparison.get("verdict") not in ("pass", "warn"):
                self.failing_keys.extend(dict(s) for s in comparison.get("samples", []))
        lag = (snapshots.get("lag") or {}).get(ctx)
        if lag:
            row.lag = int(lag.get("lag_messages", 0))
            row.dead_lettered = int(lag.get("dead_lettered", 0))

    # -- the phases ---------------------------------------------------------------------------
    def run(self) -> RehearsalResult:
        t_start = time.monotonic()
        passed = False
        error: str | None = None
        try:
            passed = self._phases()
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            log.error("rehearsal failed", error=error)
            raise
        finally:
            self._stop_timeline()
            self.env.teardown(keep=self.options.keep)
        return RehearsalResult(
            self.scenario.name,
            self.run_id,
            list(self.rows.values()),
            passed,
            time.monotonic() - t_start,
            self.failing_keys,
            error=error,
            timeline=self.timeline.to_dict() if self.timeline is not None else {},
        )

    def _start_timeline(self) -> None:
        """Sample lag, end-to-end lag, comparisons and traffic every few seconds (the
        report's time series); faults are marked on the same axis."""
        from rehearsal.timeline import StackProbes, Timeline

        self._probes = StackProbes(
            self.runner.plan,
            self.scenario.context,
            kafka={"bootstrap.servers": self.env.bootstrap_servers},
            dsn=self.env.endpoints.dsn(self.env.database),
            environ={**os.environ, **self.env.environ()},
        )
        self.timeline = Timeline(self._probes)
        self.timeline.start()

    def _stop_timeline(self) -> None:
        if self.timeline is not None:
            self.timeline.stop()
            self._probes.close()

    def enter_dual_write(self) -> bool:
        """Set up, then phases 1 to 3: identify, add the broker, dual-write with the shadow
        workers running. False when a gate on the way did not pass."""
        t0 = time.monotonic()
        self.say(f"setting up: stack, database, {self.system.name} app")
        self.env.setup()
        self.runner = self._build_runner()
        self._start_timeline()
        self._discover()
        self._record(1, self.runner.advance(1), t0)
        self.rows[1].status = "entered"

        t0 = time.monotonic()
        self.say("phase 2: add the broker (topics, Debezium outbox connector, canary)")
        if not self._record(1, self.runner.advance(2), t0):
            return False
        self.rows[2].status = "entered"

        t0 = time.monotonic()
        self.say("phase 3: dual-write with the shadow pipeline")
        self.env.workers.start()
        self.wait_group_members()
        if not self._record(2, self._switched(self.runner.advance(3)), t0):
            return False
        self.rows[3].status = "entered"
        return True

    def _phases(self) -> bool:
        ctx = self.scenario.context
        if not self.enter_dual_write():
            return False
        t0 = time.monotonic()
        self.traffic_burst(3)
        self.env.wait_settled()

        self.say("phase 4: migrate to async (gate of phase 3, rollback drill later)")
        for context in self._rollout():  # each context by its own gate, in rollout order
            if not self._record(3, self._switched(self.runner.advance(4, context=context)), t0):
                return False
            t0 = time.monotonic()
        self.rows[4].status = "entered"
        t0 = time.monotonic()
        # no worker restart: the shadow performs or records each event's effects as the mode
        # stamped on it says, so the move takes effect event by event
        self.traffic_burst(4, seconds=self._burst_seconds(self._async_rate(), VERIFIED_PER_REQUEST))
        self.env.wait_settled()

        if not self._rollback_drill(ctx):
            return False

        self.say("phase 5: remove synchronous calls (gate of phase 4 with rollback drill)")
        outcome = self._switched(self.runner.advance(5))
        if inconclusive := inconclusive_left_out(outcome, ctx):
            self.rows[4].notes.append(
                f"{inconclusive} verify run(s) inconclusive (a downstream gave the dry run no "
                "answer): left out of the reverse comparison, counted in its left-out share"
            )
        if not self._record(4, outcome, t0):
            return False
        self.rows[5].status = "entered"
        t0 = time.monotonic()
        self.traffic_burst(5)
        self.env.wait_settled()
        return self._record(5, self.runner.check_gate(), t0)

    def _rollout(self) -> list[str]:
        """The plan's contexts in its rollout order."""
        return list(self.runner.plan.context_names())

    def _dual_rate(self) -> float:
        return float(self.runner.plan.gates.dual_write.min_match_rate)

    def _async_rate(self) -> float:
        return float(self.runner.plan.gates.async_.min_match_rate)

    def _switched(self, outcome: Any) -> Any:
        """Wait (bounded) until the sample's instances run the modes a transition wrote, as
        ``cutover advance``/``rollback`` do: an order placed on a stale cached mode is counted
        out of scope by the next gate (its window starts at the mode change)."""
        from phases.instances import WaitOptions, await_transition

        try:
            await_transition(self.runner, outcome, WaitOptions(), say=self.say)
        except CutoverError as exc:  # instances still lagging: the gate will show their keys
            self.say(exc.one_line())
        return outcome

    def _rollback_drill(self, ctx: str) -> bool:
        """The way back, with traffic: roll the context back to dual, run orders through the
        synchronous path again, prove the outcomes still match, then go forward again."""
        t0 = time.monotonic()
        self.say(f"rollback drill: {ctx} back to dual with traffic")
        self._switched(self.runner.rollback(context=ctx))
        # A full burst: the gate judges only the keys placed since the rollback (its window
        # starts at the mode change), and they must reach min_settled_keys on their own.
        self.traffic_burst(40, seconds=self._burst_seconds(self._dual_rate(), SETTLED_PER_REQUEST))
        self.env.wait_settled()
        if not self._record(40, self.runner.check_gate(context=ctx), t0):
            return False
        t0 = time.monotonic()
        self.say(f"rollback drill passed: {ctx} forward to async again")
        if not self._record(40, self._switched(self.runner.advance(4, context=ctx)), t0):
            return False
        # the phase-4 gate judges only this burst (keys since the forward move)
        self.traffic_burst(4, seconds=self._burst_seconds(self._async_rate(), VERIFIED_PER_REQUEST))
        self.env.wait_settled()
        return True

    def _discover(self) -> None:
        from phases.commands import CommandConfig
        from phases.discover_command import discover

        out = io.StringIO()
        draft = self.env.run_dir / "plan-draft.yaml"
        discover(
            CommandConfig(json=True, stdout=out, environ=self.env.environ()),
            url_env=self.system.database_env,
            calls_file=None,
            schema=None,
            out=draft,
            bootstrap=self.env.bootstrap_servers,
            connect_url=self.env.endpoints.connect_url,
        )
        self.say(f"phase 1: discovery wrote a plan draft to {draft}")

    def wait_group_members(self, timeout: float = 60.0) -> None:
        """Wait until the shadow group has an active member (the gates' own probe)."""
        from phases.adapters import ShadowGroupPipeline

        probe = ShadowGroupPipeline(
            self.runner.plan, {"bootstrap.servers": self.env.bootstrap_servers}
        )
        deadline = time.monotonic() + timeout
        while probe.members(self.env.group) == 0:
            if time.monotonic() > deadline:
                raise NotReadyError(
                    f"shadow group {self.env.group}", f"no members after {timeout}s"
                )
            time.sleep(0.5)


def rehearse(
    topology: Topology, options: RehearseOptions, *, say: Say | None = None
) -> RehearsalResult:
    """Run one rehearsal and return its result (the CLI renders it)."""
    return Rehearsal(topology, options, say or (lambda _line: None)).run()
