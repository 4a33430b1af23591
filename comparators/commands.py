"""The comparators' commands as plain functions (the CLI is a thin layer over these).

Each takes its inputs as values and an injectable ``stdout``; each returns what
it computed so tests (and ``phases`` gates) can use it without the CLI.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

import structlog
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from comparators import report
from comparators.diff import Scope, observe, summarise
from comparators.errors import PlanError, SourceError
from comparators.heartbeat_kafka import read_captured_at
from comparators.invariants import resolve_all
from comparators.joined import by_ranges, choose_join, compare_by_ranges, comparison_section
from comparators.noise import NoiseFloor
from comparators.outbox import OutboxWriter
from comparators.partition import Partition
from comparators.plan import CompareConfig, PipelineRef
from comparators.position import PipelinePosition
from comparators.position_kafka import read_position
from comparators.repair import REPAIRED, PayloadBuilder, RepairPlan, default_payload, propose
from comparators.result import Category, ComparisonResult, KeyResult, merge, merge2
from comparators.sources import OutcomeSource, ReadWindow, pushdown_window, query_failure
from comparators.verdict import Verdict, VerdictPolicy, decide, failed
from comparators.watch import LATE_LIMIT, WatermarkStore, watch_step
from cutover_common.cli import echo_json

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """A finished run: the result, the verdict and the evidence document."""

    result: ComparisonResult
    verdict: Verdict
    evidence: dict[str, Any]
    files: tuple[Path, ...] = ()
    position: PipelinePosition | None = None
    """Where the pipeline stood when the run began (``None``: not measured)."""
    error: str | None = None
    """Why the outcomes could not be read (a query wrong for its database, e.g. a renamed
    column): the verdict is then ``fail`` on no figures, the evidence states it."""


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ-") + uuid.uuid4().hex[:6]


def _with_progress(
    items: Iterable[KeyResult], enabled: bool, stream: TextIO
) -> Iterator[KeyResult]:
    if not enabled:
        yield from items
        return
    columns = (SpinnerColumn(), TextColumn("{task.description} {task.completed:,} keys"))
    console = Console(file=stream, stderr=stream is sys.stderr)
    with Progress(*columns, TimeElapsedColumn(), console=console, transient=True) as bar:
        task = bar.add_task("comparing", total=None)
        for n, item in enumerate(items, 1):
            if n % 2000 == 0:
                bar.update(task, completed=n)
            yield item


NO_PIPELINE = (
    "no shadow-group position for this comparison (the plan names no Kafka topic for the "
    "context, or the candidate is not the shadow group: phase 4's verify runs)"
)


def read_pipeline_position(ref: PipelineRef | None) -> tuple[PipelinePosition | None, str]:
    """Where the shadow group stands on its topic, read before the sources (so a candidate
    written after the reading cannot be judged missing); ``(None, reason)`` when it could not
    be read — the comparison then falls back to the settle window and says so."""
    if ref is None:
        return None, NO_PIPELINE
    try:
        position = read_position(ref.conf, ref.topic, ref.group)
    except Exception as exc:  # any failure: "not measured", recorded below
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        log.warning("compare.position_unread", topic=ref.topic, group=ref.group, reason=reason)
        return None, f"position of {ref.group} on {ref.topic} not read: {reason}"
    if ref.heartbeat_topic:
        try:
            captured = read_captured_at(ref.conf, ref.heartbeat_topic)
        except Exception as exc:  # the capture side unread: the consumer position still holds
            log.warning("compare.heartbeat_unread", topic=ref.heartbeat_topic, reason=str(exc))
            captured = None
        position = dataclasses.replace(position, captured_at=captured)
    return position, ""


def pipeline_section(position: PipelinePosition | None, reason: str = "") -> dict[str, Any]:
    """The evidence's view of the pipeline position (``measured: false`` when unknown)."""
    if position is None:
        return {"measured": False, "watermark": None, "reason": reason}
    known = position.watermark_known
    return {
        "measured": known,
        "topic": position.topic,
        "group": position.group,
        "observed_at": position.observed_at.isoformat(),
        "watermark": position.watermark.isoformat() if known else None,
        "captured_at": position.captured_at.isoformat() if position.captured_at else None,
        "lag_messages": position.lag_messages,
        "lag_ms": position.lag_ms if known else None,
        "expired": position.expired,
        "members": position.members,
        "reason": "" if known else "a partition is behind but its oldest record's time is unknown",
    }


def left_out_section(result: ComparisonResult) -> dict[str, Any]:
    """Keys seen but not judged, by cause, and their share of every key seen."""
    share = result.left_out_share
    return {
        "pending": result.pending,
        "out_of_scope": result.out_of_scope,
        "inconclusive": result.inconclusive,
        "total": result.left_out,
        "share": None if math.isnan(share) else round(share, 6),
    }


def write_reports(doc: dict[str, Any], out_dir: Path) -> tuple[Path, ...]:
    """Write evidence.json, report.html, summary.md and junit.xml into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {
        "evidence.json": json.dumps(doc, indent=2, sort_keys=True, default=str) + "\n",
        "report.html": report.html(doc),
        "summary.md": report.markdown(doc),
        "junit.xml": report.junit(doc),
    }
    paths = []
    for name, text in files.items():
        path = out_dir / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return tuple(paths)


def print_summary(doc: dict[str, Any], stdout: TextIO) -> None:
    """A rich table of the verdict and counts, for humans."""
    console = Console(file=stdout, highlight=False)
    v, f = doc["verdict"], doc["figures"]
    table = Table(title=f"compare {doc['context']}: {v['status'].upper()}")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for name in (
        "settled",
        "matched",
        "pending",
        "match_rate",
        "wilson_lower",
        "adjusted_match_rate",
    ):
        table.add_row(name, "n/a" if f[name] is None else str(f[name]))
    for name, n in doc["counts"].items():
        table.add_row(f"keys {name}", str(n))
    console.print(table)
    left = doc.get("left_out")
    if left and left["total"]:
        console.print(
            f"left out: {left['pending']} pending, {left['out_of_scope']} out of scope, "
            f"{left.get('inconclusive', 0)} inconclusive (share {left['share']})"
        )
    pipeline = doc.get("pipeline")
    if pipeline and not pipeline["measured"]:
        console.print(f"pipeline watermark unknown: {pipeline['reason']}")
    comparison = doc.get("comparison") or {}
    if comparison.get("rules_without_sql"):
        names = ", ".join(comparison["rules_without_sql"])
        console.print(f"rules without a SQL form (differing keys judged in Python): {names}")
    unexplained = report.not_explained_line(doc)
    if unexplained:
        console.print(unexplained)
    for reason in v["reasons"]:
        console.print(f"- {reason}")
    for sample in doc["result"]["samples"][:10]:
        paths = ", ".join(d["path"] for d in sample["differences"]) or "-"
        console.print(f"  {sample['category']:<10} {sample['key']}  {paths}")


def window_start(
    now: datetime, window: timedelta | None, entered: datetime | None
) -> datetime | None:
    """The earliest time a judged key may have: ``window`` before ``now``, or ``entered`` (the
    context's mode change) when later; ``None``: every key on record."""
    starts = [t for t in (now - window if window else None, entered) if t is not None]
    return max(starts) if starts else None


def run_compare(
    config: CompareConfig,
    *,
    now: datetime | None = None,
    partition: Partition | None = None,
    noise: NoiseFloor | None = None,
    out_dir: Path | None = None,
    stdout: TextIO | None = None,
    as_json: bool = False,
    progress: bool = False,
    run_id: str | None = None,
    position: PipelinePosition | None = None,
) -> RunOutcome:
    """Compare control and candidate of one context once; write evidence; print the verdict.

    With ``config.window``, only keys whose control outcome (or, without one, candidate
    outcome) was produced within the window before ``now`` (and not before ``config.since``,
    the context's mode change) are judged; both sides are read
    from twice the window back, so the other side of a key near the window's edge (a
    candidate that came before its control) is still seen.

    ``position`` (else read from Kafka when the plan names the context's topic) tells
    pending from missing and expired; keys written in modes the gate's comparison does not
    cover are counted ``out_of_scope``. The evidence states both (``pipeline``, ``left_out``).

    An outcome query that is wrong for its database (a renamed column) gives a ``fail``
    verdict whose reason and ``error`` are the database's one-line message, evidence
    written; a database that cannot be reached raises :class:`SourceError` (nothing was
    measured).
    """
    out = stdout or sys.stdout
    unread = ""
    if position is None:
        position, unread = read_pipeline_position(config.pipeline)
    part = partition or Partition()
    clock = now or datetime.now(UTC)
    invariants = resolve_all(config.invariants)
    since = window_start(clock, config.window, config.since)
    window = pushdown_window(
        config.control,
        config.candidate,
        config.options.ignore,
        bool(invariants),
        ReadWindow(since=clock - 2 * config.window if config.window else None, partition=part),
    )
    started = time.perf_counter()
    scope = Scope(now=clock, since=since, partition=part, modes=config.modes, position=position)
    joined = choose_join(config, window, scope, bool(invariants))
    ranged = joined is None and by_ranges(config, bool(invariants))
    error: str | None = None
    try:
        if ranged:
            result = compare_by_ranges(config, window, scope)
        else:
            keys = (
                joined.keys
                if joined is not None
                else observe(
                    config.control.observations(window),
                    config.candidate.observations(window),
                    config.options,
                    scope,
                    invariants,
                )
            )
            result = summarise(_with_progress(keys, progress, sys.stderr), config.options)
            if joined is not None:
                result = merge2(result, joined.decided)
    except SourceError as exc:
        if exc.unreachable:
            raise
        error = query_failure(exc)
        log.warning("compare.query_failed", context=config.context, error=error)
        result = ComparisonResult(
            sample_limit=config.options.sample_limit,
            bucket_seconds=config.options.timeline_bucket_seconds,
        )
    verdict = failed(error, config.policy, noise) if error else decide(result, config.policy, noise)
    info = report.RunInfo(
        run_id=run_id or new_run_id(),
        context=config.context,
        control=config.control.name,
        candidate=config.candidate.name,
        partition=str(part),
        plan_hash=config.plan_hash,
        generated_at=clock,
        window_seconds=config.window.total_seconds() if config.window else None,
    )
    rules = report.options_summary(config.options)
    doc = report.evidence(
        result, verdict, policy=config.policy, info=info, rules=rules, noise=noise
    )
    doc["pipeline"] = pipeline_section(position, unread)
    doc["left_out"] = left_out_section(result)
    doc["error"] = error
    doc["comparison"] = comparison_section(config, joined, ranged=ranged)
    log.info(
        "compare.done",
        context=config.context,
        status=str(verdict.status),
        settled=result.settled,
        seconds=round(time.perf_counter() - started, 3),
    )
    files = write_reports(doc, out_dir) if out_dir else ()
    if as_json:
        echo_json(doc, stream=out)
    else:
        print_summary(doc, out)
    return RunOutcome(result, verdict, doc, files, position, error)


def merge_evidence(docs: list[dict[str, Any]]) -> dict[str, Any]:
    """One evidence document from the documents of partition runs (results merged, re-judged)."""
    first = docs[0]
    result = merge(ComparisonResult.from_dict(d["result"]) for d in docs)
    policy = VerdictPolicy(**first["thresholds"])
    noise = NoiseFloor(**first["noise"])
    verdict = decide(result, policy, noise)
    info = report.RunInfo(
        run_id="merged-" + "+".join(sorted(d["run_id"] for d in docs)),
        context=first["context"],
        control=first["sources"]["control"],
        candidate=first["sources"]["candidate"],
        partition=",".join(d["partition"] for d in docs),
        plan_hash=first.get("plan_hash"),
        window_seconds=first.get("window_seconds"),
    )
    doc = report.evidence(
        result, verdict, policy=policy, info=info, rules=first["rules"], noise=noise
    )
    doc["left_out"] = left_out_section(result)
    return doc


def calibrate_noise(
    first: OutcomeSource,
    second: OutcomeSource,
    config: CompareConfig,
    *,
    now: datetime | None = None,
) -> tuple[NoiseFloor, ComparisonResult]:
    """A/A: compare two candidate sources; their disagreement rate is the noise floor."""
    window = pushdown_window(first, second, config.options.ignore, False, ReadWindow())
    scope = Scope(now=now or datetime.now(UTC))
    keys = observe(first.observations(window), second.observations(window), config.options, scope)
    result = summarise(keys, config.options)
    return NoiseFloor.from_result(result), result


def load_noise(path: Path) -> NoiseFloor:
    data = json.loads(path.read_text())
    noise = data.get("noise", data)
    return NoiseFloor(float(noise["rate"]), int(noise["settled"]), int(noise["disagreements"]))


def watch_compare(
    config: CompareConfig,
    store: WatermarkStore,
    *,
    name: str,
    interval: float = 10.0,
    iterations: int | None = None,
    stdout: TextIO | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    sleep: Callable[[float], None] = time.sleep,
    partition: Partition | None = None,
    late_limit: timedelta = LATE_LIMIT,
) -> Verdict:
    """Compare continuously: each step judges newly settled keys and persists the watermark."""
    out = stdout or sys.stdout
    state = store.load(name)
    invariants = resolve_all(config.invariants)
    verdict = decide(state.result, config.policy)
    step_no = 0
    while iterations is None or step_no < iterations:
        if step_no:
            sleep(interval)
        position, _unread = read_pipeline_position(config.pipeline)
        step = watch_step(
            config.control,
            config.candidate,
            config.options,
            state,
            clock(),
            invariants=invariants,
            partition=partition,
            late_limit=late_limit,
            modes=config.modes,
            position=position,
        )
        state = step.state
        store.save(name, state)
        verdict = decide(state.result, config.policy)
        out.write(
            f"step {state.steps}: +{step.increment.settled} settled, {step.pending} pending, "
            f"total {state.result.settled} settled, match rate "
            f"{verdict.match_rate:.6f}, verdict {verdict.status}\n"
        )
        out.flush()
        step_no += 1
    return verdict


def repair(
    config: CompareConfig,
    *,
    writer: OutboxWriter | None,
    apply: bool = False,
    run_id: str | None = None,
    now: datetime | None = None,
    stdout: TextIO | None = None,
    as_json: bool = False,
    event_type: str | None = None,
    position: PipelinePosition | None = None,
    payload: PayloadBuilder = default_payload,
) -> tuple[RepairPlan, int]:
    """Propose compensating outbox events for missing and expired keys written in a mode that
    wrote events (never for out-of-scope or pending keys); write them only when ``apply``.
    ``payload`` builds each event's payload from the control outcome (default: the outcome
    itself, marked as a repair).

    ``position`` (else read from Kafka when the plan names the topic) keeps keys the pipeline
    has not reached yet out of the proposal (they are pending, not missing).
    """
    out = stdout or sys.stdout
    emitted = event_type or config.event_type
    if emitted is None:
        raise PlanError(
            config.context,
            "no event to emit for missing keys: list the context's events or pass --event-type",
        )
    if position is None:
        position, _unread = read_pipeline_position(config.pipeline)
    window = pushdown_window(
        config.control, config.candidate, config.options.ignore, False, ReadWindow()
    )
    keys = observe(
        config.control.observations(window),
        config.candidate.observations(window),
        config.options,
        Scope(now=now or datetime.now(UTC), modes=config.modes, position=position),
    )
    wanted = (k for k in keys if k.category in (*REPAIRED, Category.DIVERGENT))
    plan = propose(wanted, emitted, run_id or new_run_id(), payload)
    written = writer.write(plan.events) if apply and writer is not None else 0
    if as_json:
        echo_json({**plan.to_dict(), "applied": apply, "written": written}, stream=out)
    else:
        mode = f"applied ({written} new rows)" if apply else "dry run (nothing written)"
        out.write(
            f"repair {plan.run_id}: {len(plan.events)} events for missing or expired keys, {mode}\n"
        )
        for e in plan.events:
            out.write(f"  emit {e.type} for {e.aggregateid} (causation {e.causation_id})\n")
        for d in plan.divergent:
            paths = ", ".join(x.path for x in d.differences)
            out.write(f"  divergent {d.key}: {paths}\n")
    return plan, written
