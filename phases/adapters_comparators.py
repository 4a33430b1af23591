"""The comparison and invariant ports backed by ``comparators`` (imported lazily).

``comparators.plan.load_config`` reads the comparison part of the plan (phases writes the
validated plan as JSON next to the run's evidence and points it there), and
``comparators.commands.run_compare`` runs it and writes its own evidence (JSON, HTML,
Markdown, JUnit) into the gate's reports folder. Each run judges the keys of the gate's
``window_seconds`` (the look-back the port is called with), none written before ``since`` (when
the context entered its current mode). Phase 4's reverse comparison swaps the
candidate for the plan's ``verify_query`` / ``verify_callable`` source.

One run answers both ports: the invariant violations travel on the
:class:`~phases.ports.ComparisonSummary` of the run, so :class:`ComparatorsInvariants` is
one comparison (not a second one beside it) and a caller holding a summary reads the
invariants off it (:meth:`~phases.ports.ComparisonSummary.invariant_results`).
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cutover_common.secrets import redact
from phases.errors import AdapterUnavailable
from phases.plan import Plan
from phases.ports import ComparisonSummary, InvariantResult

if TYPE_CHECKING:
    from comparators.commands import RunOutcome
    from comparators.plan import CompareConfig

GATE_FOR = {"event": "dual_write", "verify": "async"}
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
        candidate: str,
        min_keys: int | None,
        window_seconds: float,
        since: datetime | None = None,
    ) -> RunOutcome:
        try:
            from comparators.plan import load_config
        except ImportError as exc:
            raise AdapterUnavailable("ComparisonRunner", f"comparators: {exc}") from exc
        out_dir = self.reports / f"{context}-{candidate}-{uuid.uuid4().hex[:8]}"
        out_dir.mkdir(parents=True, exist_ok=True)
        plan_file = out_dir / "plan.json"
        plan_file.write_text(
            json.dumps(self.plan.model_dump(mode="json", by_alias=True, exclude_none=True))
        )
        config = load_config(plan_file, context, GATE_FOR[candidate], self.env)
        if candidate == "verify":
            # Phase 4: the event path is authoritative (control); the sync calls ran in verify
            # mode (dry run) and their would-be outcomes are the candidate (reverse comparison).
            config = dataclasses.replace(
                config,
                control=self._async_event_source(context) or config.candidate,
                candidate=self._verify_source(context),
            )
        if min_keys is not None:
            config = dataclasses.replace(
                config, policy=dataclasses.replace(config.policy, min_settled_keys=min_keys)
            )
        config = dataclasses.replace(config, window=timedelta(seconds=window_seconds), since=since)
        return self.execute(config, out_dir)

    def _source(self, context: str, field: str, name: str) -> Any:
        """The plan's ``<field>_callable`` or ``<field>_query`` source named ``name`` (read
        from ``<name>_database``), or None."""
        from comparators.sources import CallableSource, SqlSource

        ctx = self.plan.contexts[context]
        spec = ctx.outcome
        if spec is None:
            return None
        mode, flag = ctx.compare.mode_column, ctx.compare.inconclusive_column
        if callable_ := getattr(spec, f"{field}_callable"):
            return CallableSource(
                callable_, name=name, key=spec.key, mode_column=mode, inconclusive_column=flag
            )
        query = getattr(spec, f"{field}_query")
        if not query:
            return None
        ref = getattr(spec, f"{name}_database") or self.plan.system.database
        url = self.env.get(ref.url_env)
        if not url:
            raise AdapterUnavailable("ComparisonRunner", f"{ref.url_env} is not set")
        return SqlSource(
            url, query, name=name, key=spec.key, mode_column=mode, inconclusive_column=flag
        )

    def _async_event_source(self, context: str) -> Any:
        """The event side restricted to async-placed orders, when the plan names one."""
        return self._source(context, "async_event", "event")

    def _verify_source(self, context: str) -> Any:
        source = self._source(context, "verify", "verify")
        if source is None:
            raise AdapterUnavailable(
                "ComparisonRunner", f"context {context} has no outcome.verify_query/verify_callable"
            )
        return source

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
            run = self._run(context, candidate, min_keys, window_seconds, since)
        except Exception as exc:
            return ComparisonSummary.failed(context, query_failure(exc))
        return summarise_run(context, run)


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
