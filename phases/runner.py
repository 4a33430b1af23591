"""Runs transitions against the state store: lock, journal, gates, steps, evidence, audit.

The pure decisions (which moves, which gates) come from :mod:`phases.graph`; this module
does them, in order, recording each finished move in one database transaction so a crash
leaves a journal row that ``advance --resume`` continues from.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import structlog

from cutover_common.modes import Mode
from phases.context import DrillRecord, StepContext, utcnow
from phases.errors import (
    NothingToResume,
    StepFailed,
    TransitionInterrupted,
    TransitionLocked,
    TransitionRefused,
    UnknownContext,
)
from phases.evidence import EvidenceRef, write_bundle
from phases.gates import GateResult, Verdict
from phases.graph import (
    MachineState,
    Move,
    Phase,
    StepGraph,
    TransitionPlan,
    plan_advance,
    plan_rollback,
)
from phases.store import AuditEntry, Journal, StateStore

log = structlog.get_logger(__name__)

Status = Literal["done", "dry-run", "paused", "reverted"]
Decision = Literal["proceed", "pause", "revert"]
Kind = Literal["advance", "rollback", "gate-check"]
REFUSALS = (TransitionRefused, TransitionLocked, TransitionInterrupted, NothingToResume)
"""What refuses a transition before it starts: audited as ``<kind>-refused``."""


@dataclass(frozen=True, slots=True)
class TransitionOutcome:
    """What an advance, rollback or gate check did."""

    plan: TransitionPlan | None
    status: Status
    phase: int
    gate: GateResult | None = None
    evidence: EvidenceRef | None = None
    reverted: TransitionPlan | None = None

    @property
    def exit_code(self) -> int:
        """The gate's verdict as an exit code (``ExitCode``: 0 pass, 3 warn, 4 fail,
        5 low-confidence, 6 inconclusive), 0 when no gate ran."""
        return int(self.gate.verdict.exit_code) if self.gate is not None else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "phase": self.phase,
            "plan": self.plan.to_dict() if self.plan else None,
            "verdict": self.gate.verdict.value if self.gate else None,
            "reasons": self.gate.reasons if self.gate else [],
            "paused_because": (
                pause_reason(self.gate) if self.gate and self.status == "paused" else None
            ),
            "evidence": self.evidence.path if self.evidence else None,
            "evidence_sha256": self.evidence.sha256 if self.evidence else None,
            "reverted": self.reverted.to_dict() if self.reverted else None,
        }


def pause_reason(result: GateResult) -> str:
    """Why a gate paused instead of proceeding or reverting, in one line."""
    unknown = [f"{c.context + ': ' if c.context else ''}{c.name}" for c in result.unknown()]
    if result.verdict is Verdict.INCONCLUSIVE and unknown:
        return f"inconclusive, not measured: {', '.join(unknown)} (no automatic revert)"
    if result.verdict is Verdict.INCONCLUSIVE:
        left = [
            f"{c.context + ': ' if c.context else ''}{c.name}: {c.detail}"
            for c in result.checks
            if c.verdict is Verdict.INCONCLUSIVE
        ]
        return f"inconclusive, {'; '.join(left)} (no automatic revert)"
    if result.verdict is Verdict.FAIL and not result.outcome_failed:
        return "failed on infrastructure or inputs, not on outcomes (no automatic revert)"
    return f"verdict {result.verdict.value}"


def plan_from_dict(data: Mapping[str, Any]) -> TransitionPlan:
    """Rebuild a journalled :class:`TransitionPlan`."""
    moves = tuple(
        Move(int(m["revision"]), m["direction"], tuple(m["contexts"]), m.get("gate"))
        for m in data["moves"]
    )
    modes = {c: Mode(v) for c, v in data.get("modes_after", {}).items()}
    return TransitionPlan(data["kind"], int(data["from"]), int(data["to"]), moves, modes)


class StoreDrillLog:
    """Rollback drills recorded as audit rows (``action = drill``)."""

    def __init__(self, store: StateStore, actor: str) -> None:
        self.store, self.actor = store, actor

    def last_drill(self, context: str) -> DrillRecord | None:
        """The latest drill for ``context`` since it last moved (older drills do not count)."""
        for e in self.store.history(1000):
            if context not in e.contexts:
                continue
            if e.action == "drill":
                detail = str((e.detail or {}).get("summary", ""))
                return DrillRecord(context, e.verdict == "pass", detail, e.at or utcnow())
            if e.action in ("advance", "rollback", "auto-revert"):
                return None
        return None

    def record_drill(self, context: str, passed: bool, detail: Mapping[str, Any]) -> None:
        self.store.append_audit(
            AuditEntry(
                "drill",
                Phase.ASYNC,
                Phase.ASYNC,
                self.actor,
                (context,),
                "pass" if passed else "fail",
                detail=dict(detail),
            )
        )


class Runner:
    """Executes advance / rollback / gate check for one plan against one state store."""

    def __init__(
        self,
        *,
        store: StateStore,
        ctx: StepContext,
        graph: StepGraph[StepContext],
        reports_dir: Path,
    ) -> None:
        self.store, self.ctx, self.graph, self.reports_dir = store, ctx, graph, reports_dir
        self.plan = ctx.plan

    # -- reading ---------------------------------------------------------------------------
    def state(self) -> MachineState:
        current = self.ctx.ports.modes.get_modes()
        modes = {c: current.get(c, Mode.SYNC) for c in self.plan.context_names()}
        return MachineState(self.store.phase(), modes)

    def _known(self, context: str | None) -> None:
        if context is not None and context not in self.plan.contexts:
            raise UnknownContext(context, list(self.plan.contexts))

    # -- advance ---------------------------------------------------------------------------
    def advance(
        self,
        target: int | None = None,
        context: str | None = None,
        *,
        dry_run: bool = False,
        resume: bool = False,
    ) -> TransitionOutcome:
        """Advance the migration (see ``cutover advance``)."""
        self._known(context)
        if dry_run and not resume:
            plan = plan_advance(self.state(), self.graph.head, target=target, context=context)
            return TransitionOutcome(plan, "dry-run", plan.from_phase)
        with self._refusals_audited("advance", target, context):
            return self._advance_locked(target, context, dry_run=dry_run, resume=resume)

    def _advance_locked(
        self, target: int | None, context: str | None, *, dry_run: bool, resume: bool
    ) -> TransitionOutcome:
        with self.store.transition_lock(self.ctx.actor):
            journal = self.store.journal()
            if resume:
                if journal is None:
                    raise NothingToResume()
                plan = plan_from_dict(journal.plan)
                if dry_run:
                    return TransitionOutcome(plan, "dry-run", self.store.phase())
                self._audit_resumed(journal)
                with self._interruptions_audited():
                    if journal.kind == "rollback":
                        return self._run_rollback(plan, journal.done_moves, "rollback")
                    return self._run_advance(plan, journal.done_moves, journal.stage)
            if journal is not None:
                raise TransitionInterrupted(
                    journal.from_phase, journal.to_phase, journal.stage, journal.actor
                )
            plan = plan_advance(self.state(), self.graph.head, target=target, context=context)
            self.store.begin_journal("advance", plan.to_dict(), self.ctx.actor)
            with self._interruptions_audited():
                return self._run_advance(plan, 0, "begun")

    # -- the audit of transitions that did not simply run ---------------------------------
    @contextmanager
    def _refusals_audited(
        self, kind: Kind, target: int | None, context: str | None
    ) -> Iterator[None]:
        """Write a ``<kind>-refused`` audit row (with the reason) for a refusal, then re-raise."""
        try:
            yield
        except REFUSALS as exc:
            current = self._quietly(self.store.phase)
            to = exc.target if isinstance(exc, TransitionRefused) else target
            if current is not None:
                self._audit_quietly(
                    AuditEntry(
                        f"{kind}-refused",
                        current,
                        current if to is None else to,
                        self.ctx.actor,
                        (context,) if context else (),
                        detail={"reason": str(exc), "error": type(exc).__name__},
                    )
                )
            raise

    @contextmanager
    def _interruptions_audited(self) -> Iterator[None]:
        """Write a ``<kind>-interrupted`` audit row when a journalled transition stops half-way
        (Ctrl-C, a crash, a step whose undo failed) and its journal stays for ``--resume``;
        then re-raise. A step that failed cleanly ended its journal and wrote ``failed``."""
        try:
            yield
        except BaseException as exc:
            journal = self._quietly(self.store.journal)
            phase = self._quietly(self.store.phase)
            if journal is not None and phase is not None:
                self._audit_quietly(
                    AuditEntry(
                        f"{journal.kind}-interrupted",
                        phase,
                        journal.to_phase,
                        self.ctx.actor,
                        _journal_contexts(journal),
                        detail={
                            "stage": journal.stage,
                            "done_moves": journal.done_moves,
                            "reason": str(exc) or type(exc).__name__,
                            "error": type(exc).__name__,
                        },
                    )
                )
            raise

    def _audit_resumed(self, journal: Journal) -> None:
        self.store.append_audit(
            AuditEntry(
                f"{journal.kind}-resumed",
                self.store.phase(),
                journal.to_phase,
                self.ctx.actor,
                _journal_contexts(journal),
                detail={
                    "stage": journal.stage,
                    "done_moves": journal.done_moves,
                    "started_by": journal.actor,
                    "started_at": journal.started_at.isoformat(),
                },
            )
        )

    def _quietly(self, read: Any) -> Any:
        """``read()``, or None when the store cannot answer (the original error matters more)."""
        try:
            return read()
        except Exception as exc:
            log.warning("audit_read_failed", error=str(exc))
            return None

    def _audit_quietly(self, entry: AuditEntry) -> None:
        try:
            self.store.append_audit(entry)
        except Exception as exc:  # never hide the error being reported
            log.warning("audit_write_failed", action=entry.action, error=str(exc))

    def _run_advance(self, plan: TransitionPlan, start: int, stage: str) -> TransitionOutcome:
        gate_result: GateResult | None = None
        ref: EvidenceRef | None = None
        for i in range(start, len(plan.moves)):
            move = plan.moves[i]
            resumed_stage = stage if i == start else "begun"
            skip_gate = resumed_stage.startswith(("precheck", "forward"))
            evidence: tuple[str | None, str | None, str | None] = (None, None, None)
            if move.gate_revision and skip_gate:  # passed before the crash: link that row
                last = self.store.history(1, action="gate")
                if last:
                    evidence = (last[0].verdict, last[0].evidence_path, last[0].evidence_sha256)
            elif move.gate_revision:
                self.store.set_stage(f"gate:{move.revision}")
                gate_result, ref = self._evaluate(move.gate_revision, move.contexts, "gate")
                decision = self._decide(gate_result)
                if decision != "proceed":
                    self.store.end_journal()
                    return self._stop(plan, decision, gate_result, ref, move.gate_revision)
                evidence = (gate_result.verdict.value, ref.path, ref.sha256)
            self._enter(move, skip_precheck=resumed_stage.startswith("forward"))
            entry = AuditEntry(
                "advance",
                self.store.phase(),
                move.revision,
                self.ctx.actor,
                move.contexts,
                *evidence,
                detail={
                    "gate": move.gate_revision,
                    "step": self.graph[move.revision].name,
                    "resumed": i == start and resumed_stage != "begun",
                },
            )
            self.store.commit_move(
                move.revision, entry, done_moves=i + 1, digest=self.plan.digest()
            )
            log.info("phase_advanced", to=int(move.revision), contexts=list(move.contexts))
        self.store.end_journal()
        return TransitionOutcome(plan, "done", self.store.phase(), gate_result, ref)

    def _enter(self, move: Move, *, skip_precheck: bool) -> None:
        step = self.graph[move.revision]
        if not skip_precheck:
            self.store.set_stage(f"precheck:{move.revision}")
            problems = step.precheck(self.ctx, move.contexts)
            if problems:
                self._abort(move, "precheck", "; ".join(problems))
        self.store.set_stage(f"forward:{move.revision}")
        try:
            step.forward(self.ctx, move.contexts)
        except Exception as exc:
            log.error("forward_failed", revision=move.revision, error=str(exc))
            try:
                step.backward(self.ctx, move.contexts)
            except Exception as undo_exc:  # the journal stays for --resume/rollback
                raise StepFailed(
                    move.revision, "forward", f"{exc}; undo failed: {undo_exc}"
                ) from exc
            reason = exc.reason if isinstance(exc, StepFailed) else str(exc)
            self._abort(move, "forward", reason, cause=exc)

    def _abort(self, move: Move, action: str, reason: str, cause: Exception | None = None) -> None:
        phase = self.store.phase()
        self.store.append_audit(
            AuditEntry(
                "failed",
                phase,
                move.revision,
                self.ctx.actor,
                move.contexts,
                detail={"action": action, "reason": reason},
            )
        )
        self.store.end_journal()
        raise StepFailed(move.revision, action, reason) from cause

    # -- gates -----------------------------------------------------------------------------
    def _gate_spec(self, revision: int) -> Any:
        name = self.graph[revision].gate_name
        return getattr(self.plan.gates, "async_" if name == "async" else name)

    def _evaluate(
        self, revision: int, contexts: Sequence[str], action: str
    ) -> tuple[GateResult, EvidenceRef]:
        result: GateResult = self.graph[revision].gate(self.ctx, contexts)
        phase = self.store.phase()
        ref = write_bundle(
            self.reports_dir,
            result,
            plan_digest=self.plan.digest(),
            extra={"actor": self.ctx.actor, "action": action, "current_phase": phase},
        )
        self.store.append_audit(
            AuditEntry(
                action,
                phase,
                phase,
                self.ctx.actor,
                tuple(contexts),
                result.verdict.value,
                ref.path,
                ref.sha256,
                {"gate": revision, "reasons": result.reasons},
            )
        )
        self.ctx.say(f"gate {result.gate} (phase {revision}): {result.verdict.value}")
        return result, ref

    def _decide(self, result: GateResult) -> Decision:
        """Proceed on pass (or warn when the plan says so); revert only when measured outcome
        evidence failed (and the plan reverts); pause on everything else — an inconclusive
        gate, a failed infrastructure, sample or input check — for a human."""
        spec = self._gate_spec(result.phase)
        if result.verdict is Verdict.PASS:
            return "proceed"
        if result.verdict is Verdict.WARN:
            return "proceed" if spec.on_warn == "proceed" else "pause"
        if (
            result.verdict is Verdict.FAIL
            and result.outcome_failed
            and spec.on_fail == "revert"
            and self.plan.auto_revert
        ):
            return "revert"
        return "pause"

    def _stop(
        self,
        plan: TransitionPlan | None,
        decision: Decision,
        result: GateResult,
        ref: EvidenceRef,
        gate_revision: int,
    ) -> TransitionOutcome:
        reverted = self._auto_revert(result, gate_revision) if decision == "revert" else None
        status: Status = "reverted" if reverted else "paused"
        if status == "paused":
            self.ctx.say(f"paused: {pause_reason(result)}")
        return TransitionOutcome(plan, status, self.store.phase(), result, ref, reverted)

    def _auto_revert(self, result: GateResult, gate_revision: int) -> TransitionPlan | None:
        state = self.state()
        if gate_revision == Phase.ASYNC:
            failing = {
                c.context
                for c in result.checks
                if c.verdict is Verdict.FAIL and c.kind == "outcome" and c.context
            }
            plan = None
            for c in sorted(failing):
                if self.state().modes.get(c) == Mode.ASYNC:
                    plan = plan_rollback(self.state(), context=c)
                    self.store.begin_journal("rollback", plan.to_dict(), self.ctx.actor)
                    self._run_rollback(plan, 0, "auto-revert")
            return plan
        if gate_revision != state.phase:
            return None
        plan = plan_rollback(state, target=gate_revision - 1)
        self.store.begin_journal("rollback", plan.to_dict(), self.ctx.actor)
        self._run_rollback(plan, 0, "auto-revert")
        return plan

    def check_gate(self, context: str | None = None) -> TransitionOutcome:
        """Evaluate the current phase's gate, write evidence, apply the plan's verdict policy."""
        self._known(context)
        with self._refusals_audited("gate-check", None, context):
            return self._check_gate_locked(context)

    def _check_gate_locked(self, context: str | None) -> TransitionOutcome:
        state = self.state()
        if state.phase < Phase.IDENTIFY:
            raise TransitionRefused(state.phase, state.phase, "no gate before phase 1")
        revision, contexts = self._gate_target(state, context)
        with self.store.transition_lock(self.ctx.actor), self._interruptions_audited():
            result, ref = self._evaluate(revision, contexts, "gate-check")
            decision = self._decide(result)
            if decision == "proceed":
                return TransitionOutcome(None, "done", state.phase, result, ref)
            return self._stop(None, decision, result, ref, revision)

    def _gate_target(self, state: MachineState, context: str | None) -> tuple[int, list[str]]:
        if state.phase != Phase.ASYNC:
            return state.phase, [context] if context else list(state.modes)
        if context is not None:
            rev = Phase.ASYNC if state.modes[context] == Mode.ASYNC else Phase.DUAL_WRITE
            return rev, [context]
        return Phase.ASYNC, state.contexts_in(Mode.ASYNC)

    # -- rollback --------------------------------------------------------------------------
    def rollback(
        self, target: int | None = None, context: str | None = None, *, dry_run: bool = False
    ) -> TransitionOutcome:
        """Roll back to ``target`` (default: the previous phase) or one context to dual."""
        self._known(context)
        if dry_run:
            plan = plan_rollback(self.state(), target=target, context=context)
            return TransitionOutcome(plan, "dry-run", plan.from_phase)
        with self._refusals_audited("rollback", target, context):
            return self._rollback_locked(target, context)

    def _rollback_locked(self, target: int | None, context: str | None) -> TransitionOutcome:
        with self.store.transition_lock(self.ctx.actor):
            journal = self.store.journal()
            if journal is not None and journal.kind == "rollback":
                self._audit_resumed(journal)
                with self._interruptions_audited():
                    return self._run_rollback(
                        plan_from_dict(journal.plan), journal.done_moves, "rollback"
                    )
            if journal is not None:  # an interrupted advance: roll back from where it stopped
                self.store.end_journal()
            plan = plan_rollback(self.state(), target=target, context=context)
            self.store.begin_journal("rollback", plan.to_dict(), self.ctx.actor)
            with self._interruptions_audited():
                return self._run_rollback(plan, 0, "rollback")

    def _run_rollback(self, plan: TransitionPlan, start: int, action: str) -> TransitionOutcome:
        for i in range(start, len(plan.moves)):
            move = plan.moves[i]
            step = self.graph[move.revision]
            self.store.set_stage(f"backward:{move.revision}")
            step.backward(self.ctx, move.contexts)
            to = plan.to_phase if i == len(plan.moves) - 1 else move.revision - 1
            entry = AuditEntry(
                action,
                self.store.phase(),
                to,
                self.ctx.actor,
                move.contexts,
                detail={"step": step.name},
            )
            self.store.commit_move(to, entry, done_moves=i + 1, digest=self.plan.digest())
            log.info("phase_rolled_back", to=to, contexts=list(move.contexts), action=action)
        self.store.end_journal()
        return TransitionOutcome(plan, "done", self.store.phase())


def _journal_contexts(journal: Journal) -> tuple[str, ...]:
    """Every context a journalled transition moves."""
    moves = journal.plan.get("moves", [])
    return tuple(sorted({c for m in moves for c in m.get("contexts", [])}))
