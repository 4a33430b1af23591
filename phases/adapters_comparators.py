"""The comparison and invariant ports backed by ``comparators`` (imported lazily).

:func:`phases.compare_config.compare_config` turns the plan's context into the comparators'
configuration (a pure function of the one plan model: no file, no second parse), and
``comparators.commands.run_compare`` runs it and writes its own evidence (JSON, HTML,
Markdown, JUnit) into the gate's reports folder. Each run judges the keys of the gate's
``window_seconds`` (the look-back the port is called with), none written before ``since`` (when
the context entered its current mode). Phase 4's reverse comparison takes the
plan's ``verify_query`` / ``verify_callable`` source as its candidate.

One run answers both ports: the invariant violations travel on the
:class:`~phases.ports.ComparisonSummary` of the run, so :class:`ComparatorsInvariants` is
one comparison (not a second one beside it) and a caller holding a summary reads the
invariants off it (:meth:`~phases.ports.ComparisonSummary.invariant_results`).
"""

from __future__ import annotations

import dataclasses
import io
import os
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from cutover_common.errors import EnvironmentVariableMissing
from cutover_common.secrets import redact
from phases.compare_config import Candidate
from phases.errors import AdapterUnavailable
from phases.plan import Plan
from phases.ports import ComparisonSummary, InvariantResult

if TYPE_CHECKING:
    from comparators.commands import RunOutcome
    from comparators.plan import CompareConfig

DETAIL_CHARS = 500

Execute = Callable[["CompareConfig", Path], "RunOutcome"]
"""Runs one resolved comparison, writing its evidence into the folder (the comparators seam)."""


def run_comparators(config: CompareConfig, out_dir: Path) -> RunOutcome:
    from comparators.commands import run_compare

    return run_compare(config, out_dir=out_dir, stdout=io.StringIO(), as_json=True)


class ComparatorsRunner:
    """Runs one comparators comparison for a context (control = sync side)."""

    def __init__(
        self,
        plan: Plan,
        env: Mapping[str, str] | None = None,
        reports_dir: Path | None = None,
        *,
        execute: Execute | None = None,
    ) -> None:
        self.plan = plan
        self.env = dict(os.environ if env is None else env)
        self.reports = (reports_dir or Path(plan.reports_dir)) / "comparisons"
        self.execute = execute or run_comparators

    def _run(
        self,
        context: str,
        candidate: Candidate,
        min_keys: int | None,
        window_seconds: float,
        since: datetime | None = None,
    ) -> RunOutcome:
        try:
            from comparators.errors import PlanError
            from phases.compare_config import compare_config
        except ImportError as exc:
            raise AdapterUnavailable("ComparisonRunner", f"comparators: {exc}") from exc
        try:
            config = compare_config(
                self.plan,
                context,
                candidate=candidate,
                env=self.env,
                window=timedelta(seconds=window_seconds),
                since=since,
                min_settled_keys=min_keys,
            )
        except EnvironmentVariableMissing as exc:
            raise AdapterUnavailable("ComparisonRunner", str(exc)) from exc
        except PlanError as exc:
            if candidate == "verify":  # no verify runs to read: phase 4's input is unknown
                raise AdapterUnavailable("ComparisonRunner", str(exc)) from exc
            raise
        out_dir = self.reports / f"{context}-{candidate}-{uuid.uuid4().hex[:8]}"
        out_dir.mkdir(parents=True, exist_ok=True)
        return self.execute(config, out_dir)

    def compare(
        self,
        context: str,
        *,
        candidate: str,
        window_seconds: float,
        min_keys: int,
        since: datetime | None = None,
    ) -> ComparisonSummary:
        """One run's summary; an outcome query that fails gives :meth:`ComparisonSummary.failed`
        with the database's one-line message, a database that cannot be reached raises
        :class:`~phases.errors.AdapterUnavailable` (the gate's input is unknown)."""
        try:
            run = self._run(context, _candidate(candidate), min_keys, window_seconds, since)
        except Exception as exc:
            return ComparisonSummary.failed(context, query_failure(exc))
        return summarise_run(context, run)


def _candidate(name: str) -> Candidate:
    if name == "verify":
        return "verify"
    if name == "event":
        return "event"
    raise ValueError(f"unknown candidate {name!r} (event or verify)")


def summarise_run(context: str, run: RunOutcome) -> ComparisonSummary:
    """The port's view of one comparators run: verdict, counts, samples, invariants (a run
    whose outcome query failed: :meth:`ComparisonSummary.failed`, with its evidence)."""
    if run.error is not None:
        failed = ComparisonSummary.failed(context, redact(run.error))
        return dataclasses.replace(failed, report_paths=tuple(str(p) for p in run.files))
    result, verdict = run.result, run.verdict
    violations: dict[str, int] = {}
    for name_at_side, n in result.violations:  # counted per "invariant@side"
        name = name_at_side.rpartition("@")[0] or name_at_side
        violations[name] = violations.get(name, 0) + n
    details: dict[str, list[str]] = {}
    for v in result.violation_samples:
        details.setdefault(v.invariant, []).append(f"{v.key} ({v.side}): {v.reason}")
    return ComparisonSummary(
        context=context,
        verdict=str(verdict.status),
        settled_keys=result.settled,
        matched=result.matched,
        counts=dict(result.counts),
        reasons=tuple(verdict.reasons),
        report_paths=tuple(str(p) for p in run.files),
        samples=tuple(s.to_dict() for s in result.samples[:10]),
        violations=violations,
        violation_details={n: "; ".join(d)[:DETAIL_CHARS] for n, d in details.items()},
        noise_floor=verdict.noise_floor,
    )


class ComparatorsInvariants:
    """The plan's invariants, as counted by one comparators run (sync vs event).

    Shares the comparison port's runner (see :func:`phases.adapters.build_ports`); a gate
    that already compared the context reads the invariants off that summary instead.
    """

    def __init__(
        self,
        plan: Plan,
        env: Mapping[str, str] | None = None,
        reports_dir: Path | None = None,
        *,
        runner: ComparatorsRunner | None = None,
    ) -> None:
        self.runner = runner or ComparatorsRunner(plan, env, reports_dir)

    def check(
        self, context: str, invariants: Sequence[str], window_seconds: float
    ) -> list[InvariantResult]:
        if not invariants:
            return []
        try:
            run = self.runner._run(context, "event", None, window_seconds)
        except Exception as exc:
            summary = ComparisonSummary.failed(context, query_failure(exc))
        else:
            summary = summarise_run(context, run)
        return summary.invariant_results(invariants)


QUERY_SQLSTATE_CLASSES = ("42", "22", "0A", "21", "23", "2B", "P0")
"""SQLSTATE classes of a query that is wrong for the database it reads (syntax, undefined
column or table, data exceptions, unsupported features, ...); other classes (connection,
shutdown, resources) mean the database could not be read."""


def query_failure(exc: BaseException) -> str:
    """The one-line message of an outcome query that failed (``exc`` came out of a
    comparison run), or re-raise: a database that could not be reached becomes
    :class:`~phases.errors.AdapterUnavailable`, anything that is neither a database nor a
    comparators error propagates unchanged."""
    from comparators.errors import ComparatorError

    db = _database_error(exc)
    side = getattr(exc, "side", None)
    where = f"{side} outcome query" if side in ("sync", "event", "verify") else "outcome query"
    if db is not None:
        message = _one_line(db)
        if not _is_query_error(db):
            raise AdapterUnavailable("ComparisonRunner", f"{where}: {message}") from exc
        return redact(f"{where} failed: {message}")
    if isinstance(exc, ComparatorError):
        return redact(f"{where} failed: {_first_line(str(exc))}")
    raise exc


def _database_error(exc: BaseException) -> BaseException | None:
    """The DB-API error behind ``exc`` (itself, its cause, or SQLAlchemy's ``orig``)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        orig = getattr(current, "orig", None)
        if isinstance(orig, BaseException) and _is_dbapi(orig):
            return orig
        if _is_dbapi(current):
            return current
        current = current.__cause__ or current.__context__
    return None


def _is_dbapi(exc: BaseException) -> bool:
    import psycopg

    return isinstance(exc, psycopg.Error) or type(exc).__module__ == "sqlite3"


def _is_query_error(db: BaseException) -> bool:
    sqlstate = getattr(db, "sqlstate", None)
    if sqlstate:
        return str(sqlstate)[:2] in QUERY_SQLSTATE_CLASSES
    return "no such" in str(db) or "syntax error" in str(db)  # sqlite3 has no SQLSTATE


def _one_line(db: BaseException) -> str:
    diag = getattr(db, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    return str(primary) if primary else _first_line(str(db))


def _first_line(text: str) -> str:
    return (text.strip().splitlines() or [""])[0]
